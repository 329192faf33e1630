import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { OipJsonBodies } from '../../src/oip/oip-json-bodies.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { makeModelRepository, random, randomFloats } from '../support/models.js';

/** Bodies of at least this many bytes are parsed by the JSON workers; every body below is smaller. */
const THRESHOLD = 65_536;
/** Trailing whitespace: the same JSON, a body big enough to go to a worker. */
const PADDING = ' '.repeat(THRESHOLD);

describe('OIP infer JSON bodies parsed off the HTTP thread', () => {
  let t: TestApp;
  let modelsDir: string;
  let pool: OipJsonBodies['pool'];
  before(async () => {
    modelsDir = await makeModelRepository(['silero-vad']);
    t = await startTestApp({ LATHE_MODELS_DIR: modelsDir, LATHE_OIP_JSON_OFFTHREAD_BYTES: String(THRESHOLD) });
    pool = t.app.get(OipJsonBodies).pool;
  });
  after(async () => {
    await t.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  const rand = random(11);
  const input = { name: 'input', datatype: 'FP32', shape: [1, 512], data: [...randomFloats(512, rand, 0.3)] };
  const state = { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: [...randomFloats(256, rand, 0.5)] };
  const sr = { name: 'sr', datatype: 'INT64', shape: [], data: [16000] };
  const nestedState = { ...state, data: [[state.data.slice(0, 128)], [state.data.slice(128)]] };
  const json = (value: unknown) => JSON.stringify(value);

  // [what, body]: each is sent as is (parsed inline) and padded (parsed by a worker).
  const bodies: Array<[string, string | Buffer]> = [
    ['a valid request with an id', json({ id: 'vad-7', inputs: [input, state, sr] })],
    [
      'INT64 as a decimal string, nested data, one output asked for',
      json({ inputs: [input, nestedState, { ...sr, data: ['16000'] }], outputs: [{ name: 'stateN' }] }),
    ],
    ['an output as binary data', json({ inputs: [input, state, sr], outputs: [{ name: 'output', parameters: { binary_data: true } }] })],
    ['a bad element', json({ inputs: [{ ...input, data: [...input.data.slice(1), 'loud'] }, state, sr] })],
    ['a wrong element count', json({ inputs: [input, { ...state, data: state.data.slice(1) }, sr] })],
    ['an unknown input before a bad one', json({ inputs: [{ ...sr, name: 'rate' }, { ...input, data: ['x'] }, state, sr] })],
    ['a wrong datatype with bad data', json({ inputs: [{ ...input, datatype: 'FP64', data: ['x'] }, state, sr] })],
    ['the same input twice', json({ inputs: [input, input, state, sr] })],
    ['data and binary_data_size of 0', json({ inputs: [{ ...input, parameters: { binary_data_size: 0 } }, state, sr] })],
    ['not an object', json([input])],
    ['malformed JSON', '{"inputs": [' + json(input)],
    ['a __proto__ key', `{"__proto__": {"admin": true}, "inputs": ${json([input, state, sr])}}`],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from(`{"id": "`), Buffer.from([0xc3, 0x28]), Buffer.from(`", "inputs": ${json([input, state, sr])}}`)]),
    ],
  ];

  // As is: supertest would JSON.stringify a Buffer sent as application/json.
  const send = (body: string | Buffer) =>
    request(t.server)
      .post('/v2/models/silero-vad/infer')
      .set('content-type', 'application/json')
      .serialize((raw: string | Buffer) => raw as never)
      .send(body);
  const answer = (res: request.Response) => ({
    status: res.status,
    type: res.headers['content-type'],
    headerLength: res.headers['inference-header-content-length'],
    body: Buffer.isBuffer(res.body) ? res.body.toString('hex') : res.text,
  });

  for (const [what, body] of bodies) {
    it(`answers ${what} byte for byte the same from a worker as inline`, async () => {
      const size = Buffer.byteLength(body);
      assert.ok(size < THRESHOLD, `${what}: ${size} bytes`);
      const before = pool.parsed;
      const inline = await send(body).buffer(true);
      assert.equal(pool.parsed, before, 'the small body was parsed inline');
      const padded = Buffer.isBuffer(body) ? Buffer.concat([body, Buffer.from(PADDING)]) : body + PADDING;
      const offThread = await send(padded).buffer(true);
      assert.equal(pool.parsed, before + 1, 'the padded body was parsed by a worker');
      assert.deepEqual(answer(offThread), answer(inline));
    });
  }

  it("answers the valid request with the model's outputs, and the errors in the OIP shape", async () => {
    const ok = await send(json({ id: 'vad-7', inputs: [input, state, sr] }) + PADDING);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(
      ok.body.outputs.map((o: { name: string; datatype: string; shape: number[]; data: number[] }) => [
        o.name,
        o.datatype,
        o.shape,
        o.data.length,
      ]),
      [
        ['output', 'FP32', [1, 1], 1],
        ['stateN', 'FP32', [2, 1, 128], 256],
      ],
    );
    assert.equal(ok.body.id, 'vad-7');
    const cases: Array<[string | Buffer, number, string]> = [
      [
        json({ inputs: [{ ...input, data: [...input.data.slice(1), 'loud'] }, state, sr] }),
        400,
        'input "input": element 511 is "loud", not a number',
      ],
      ['{"inputs": [' + json(input), 400, 'Body is not valid JSON'],
      [Buffer.concat([Buffer.from('{"id": "'), Buffer.from([0xff]), Buffer.from('"}')]), 400, 'Body is not valid UTF-8'],
    ];
    for (const [body, status, message] of cases) {
      const res = await send(Buffer.isBuffer(body) ? Buffer.concat([body, Buffer.from(PADDING)]) : body + PADDING);
      assert.equal(res.status, status);
      assert.deepEqual(res.body, { error: message });
    }
  });
});

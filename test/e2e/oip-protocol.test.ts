import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { binaryRequest, makeModelRepository, maxAbsDiff, OCR_ASSETS, random, randomFloats, SILERO_PATH } from '../support/models.js';

const TOLERANCE = 1e-6;

/** A text line rendered and preprocessed as PaddleOCR's recogniser expects: height 48, (x/255 - 0.5)/0.5, CHW. */
async function textCrop(text: string): Promise<{ data: Float32Array; width: number }> {
  const width = 16 + text.length * 17;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="48"><rect width="100%" height="100%" fill="white"/><text x="8" y="34" font-family="DejaVu Sans" font-size="28" fill="black">${text}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const plane = info.width * info.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i += 1) {
    for (let c = 0; c < 3; c += 1) out[c * plane + i] = (data[i * 3 + c]! / 255 - 0.5) / 0.5;
  }
  return { data: out, width: info.width };
}

/** Greedy CTC over [blank, ...ppocr_keys_v1, " "]. */
function ctcDecode(probs: Float32Array, steps: number, classes: number, dictionary: string[]): string {
  let text = '';
  let previous = -1;
  for (let t = 0; t < steps; t += 1) {
    let best = 0;
    for (let k = 1; k < classes; k += 1) if (probs[t * classes + k]! > probs[t * classes + best]!) best = k;
    if (best !== 0 && best !== previous) text += dictionary[best - 1] ?? '';
    previous = best;
  }
  return text;
}

describe('Open Inference Protocol v2', () => {
  let t: TestApp;
  let modelsDir: string;
  const logLines: string[] = [];
  before(async () => {
    // Silero as shipped, plus a copy whose batcher waits for exactly 8 rows: a deterministic merge.
    const silero = JSON.parse(await readFile(new URL('../../../models/silero-vad/1/model.json', import.meta.url), 'utf8')) as object;
    const sileroBatched = {
      ...silero,
      instances: 1,
      dynamicBatching: { preferredBatchSizes: [8], maxQueueDelayMicroseconds: 10_000_000 },
      warmup: undefined,
    };
    modelsDir = await makeModelRepository(['silero-vad', 'paddleocr-rec', 'paddleocr-cls'], { 'silero-batched': sileroBatched });
    t = await startTestApp(
      { LATHE_MODELS_DIR: modelsDir, LATHE_EXECUTION_PROVIDERS: 'cuda,cpu', LATHE_MODELS_PRELOAD: 'silero-vad' },
      { logLines },
    );
  });
  after(async () => {
    await t.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('answers server metadata, liveness and readiness', async () => {
    const server = await request(t.server).get('/v2');
    assert.deepEqual(server.body, {
      name: 'lathe',
      version: '0.1.0',
      extensions: ['binary_tensor_data', 'classification', 'model_configuration', 'model_repository', 'statistics'],
    });
    assert.deepEqual((await request(t.server).get('/v2/health/live')).body, { live: true });
    assert.deepEqual((await request(t.server).get('/v2/health/ready')).body, { ready: true });
  });

  it('runs Silero VAD exactly as an in-process ONNX Runtime session does (JSON tensors)', async () => {
    const rand = random(7);
    const input = randomFloats(3 * 576, rand, 0.3);
    const state = randomFloats(2 * 3 * 128, rand, 0.5);
    const res = await request(t.server)
      .post('/v2/models/silero-vad/infer')
      .send({
        id: 'vad-1',
        inputs: [
          { name: 'input', datatype: 'FP32', shape: [3, 576], data: [...input] },
          { name: 'state', datatype: 'FP32', shape: [2, 3, 128], data: [...state] },
          { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
        ],
      });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-execution-provider'], 'cpu');
    assert.ok(Number(res.headers['x-inference-time-ms']) > 0);
    assert.equal(res.body.model_name, 'silero-vad');
    assert.equal(res.body.model_version, '1');
    assert.equal(res.body.id, 'vad-1');
    assert.deepEqual(
      res.body.outputs.map((o: { name: string; shape: number[]; datatype: string }) => [o.name, o.datatype, o.shape]),
      [
        ['output', 'FP32', [3, 1]],
        ['stateN', 'FP32', [2, 3, 128]],
      ],
    );

    const session = await ort.InferenceSession.create(SILERO_PATH);
    const direct = await session.run({
      input: new ort.Tensor('float32', input, [3, 576]),
      state: new ort.Tensor('float32', state, [2, 3, 128]),
      sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
    });
    assert.ok(maxAbsDiff(res.body.outputs[0].data, direct.output!.data as Float32Array) <= TOLERANCE);
    assert.ok(maxAbsDiff(res.body.outputs[1].data, direct.stateN!.data as Float32Array) <= TOLERANCE);
    await session.release();
  });

  it("batches Silero requests together along the batch axis of each tensor (state: [2, batch, 128]), each answer its own run's", async () => {
    const meta = await request(t.server).get('/v2/models/silero-vad');
    assert.deepEqual(
      [...meta.body.inputs, ...meta.body.outputs].map((x: { name: string; shape: number[] }) => [x.name, x.shape]),
      [
        ['input', [-1, -1]],
        ['state', [2, -1, 128]],
        ['sr', []],
        ['output', [-1, 1]],
        ['stateN', [2, -1, 128]],
      ],
    );
    assert.equal(meta.body.parameters.max_batch_size, 64);

    const rand = random(11);
    const requests = [1, 3, 2, 2].map((rows) => ({
      rows,
      input: randomFloats(rows * 576, rand, 0.3),
      state: randomFloats(2 * rows * 128, rand, 0.5),
    }));
    const replies = await Promise.all(
      requests.map(({ rows, input, state }) =>
        request(t.server)
          .post('/v2/models/silero-batched/infer')
          .send({
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [rows, 576], data: [...input] },
              { name: 'state', datatype: 'FP32', shape: [2, rows, 128], data: [...state] },
              { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
            ],
          }),
      ),
    );
    const session = await ort.InferenceSession.create(SILERO_PATH);
    for (const [i, { rows, input, state }] of requests.entries()) {
      const res = replies[i]!;
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        res.body.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape]),
        [
          ['output', [rows, 1]],
          ['stateN', [2, rows, 128]],
        ],
      );
      const direct = await session.run({
        input: new ort.Tensor('float32', input, [rows, 576]),
        state: new ort.Tensor('float32', state, [2, rows, 128]),
        sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
      });
      assert.ok(maxAbsDiff(res.body.outputs[0].data, direct.output!.data as Float32Array) <= TOLERANCE, `request ${i}: output`);
      assert.ok(maxAbsDiff(res.body.outputs[1].data, direct.stateN!.data as Float32Array) <= TOLERANCE, `request ${i}: stateN`);
    }
    await session.release();
    const stats = (await request(t.server).get('/v2/models/silero-batched/stats')).body.model_stats[0];
    assert.equal(stats.inference_count, 8);
    assert.equal(stats.execution_count, 1);
    assert.deepEqual(
      stats.batch_stats.map((b: { batch_size: number; compute_infer: { count: number } }) => [b.batch_size, b.compute_infer.count]),
      [[8, 1]],
    );
  });

  it('runs PaddleOCR recognition on a rendered text crop exactly as in-process, in and out as binary tensors', async () => {
    const crop = await textCrop('Invoice 2024: Total $128.50');
    const { body, headerLength } = binaryRequest(
      [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, crop.width], data: crop.data }],
      [{ name: 'softmax_11.tmp_0', binary: true }],
    );
    const res = await request(t.server)
      .post('/v2/models/paddleocr-rec/infer')
      .set('content-type', 'application/octet-stream')
      .set('inference-header-content-length', String(headerLength))
      .buffer(true)
      .parse((r, done) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .send(body);
    assert.equal(res.status, 200, String(res.body));
    const responseHeaderLength = Number(res.headers['inference-header-content-length']);
    const header = JSON.parse(res.body.subarray(0, responseHeaderLength).toString('utf8'));
    const [out] = header.outputs;
    const [, steps, classes] = out.shape;
    assert.equal(out.datatype, 'FP32');
    assert.equal(classes, 6625);
    assert.equal(out.parameters.binary_data_size, steps * classes * 4);
    const raw = res.body.subarray(responseHeaderLength);
    const probs = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

    const session = await ort.InferenceSession.create(join(OCR_ASSETS, 'ch_PP-OCRv4_rec_infer.onnx'));
    const direct = await session.run({ x: new ort.Tensor('float32', crop.data, [1, 3, 48, crop.width]) });
    assert.ok(maxAbsDiff(probs, direct['softmax_11.tmp_0']!.data as Float32Array) <= TOLERANCE);
    await session.release();

    const dictionary = [...(await readFile(join(OCR_ASSETS, 'ppocr_keys_v1.txt'), 'utf8')).split('\n').filter((l) => l !== ''), ' '];
    assert.equal(ctcDecode(probs, steps, classes, dictionary), 'Invoice 2024: Total $128.50');
  });

  it('serves on CPU when asked for cuda,cpu, reports the provider and logs the fallback once', async () => {
    await request(t.server).post('/v2/repository/models/paddleocr-cls/load').expect(200);
    const metadata = await request(t.server).get('/v2/models/paddleocr-cls');
    assert.equal(metadata.body.parameters.execution_provider, 'cpu');
    const fallbacks = logLines.filter((l) => l.includes('Execution provider \\"cuda\\" is not available here'));
    assert.equal(fallbacks.length, 1, `three models loaded, one warning: ${fallbacks.join('\n')}`);
    const metrics = (await request(t.server).get('/metrics')).text;
    assert.match(metrics, /^lathe_model_loaded\{model="silero-vad",version="1",provider="cpu"\} 1$/m);
    assert.match(metrics, /^lathe_model_loaded\{model="paddleocr-cls",version="1",provider="cpu"\} 1$/m);
  });

  it('describes models with Triton shapes (-1 batch dimension when batching)', async () => {
    const res = await request(t.server).get('/v2/models/paddleocr-cls/versions/1');
    assert.deepEqual(res.body, {
      name: 'paddleocr-cls',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, 192] }],
      outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }],
      parameters: { task: 'text-orientation', license: 'Apache-2.0', max_batch_size: 32, execution_provider: 'cpu', instances: 1 },
    });
    assert.deepEqual((await request(t.server).get('/v2/models/paddleocr-cls/ready')).body, { name: 'paddleocr-cls', ready: true });
  });

  const silero = (inputs: unknown[]) => request(t.server).post('/v2/models/silero-vad/infer').send({ inputs });
  const vadInput = { name: 'input', datatype: 'FP32', shape: [1, 4], data: [0, 0, 0, 0] };
  const vadState = { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: new Array(256).fill(0) };
  const vadSr = { name: 'sr', datatype: 'INT64', shape: [], data: [16000] };

  const badInputs: Array<[string, () => request.Test, number, string]> = [
    [
      'wrong datatype',
      () => silero([{ ...vadInput, datatype: 'FP64' }, vadState, vadSr]),
      400,
      'input "input" has datatype FP64; the model takes FP32',
    ],
    [
      'wrong shape',
      () => silero([vadInput, { ...vadState, shape: [2, 1, 64], data: new Array(128).fill(0) }, vadSr]),
      400,
      'input "state" has shape [2,1,64]; the model takes [2,-1,128] (-1: any size)',
    ],
    [
      'wrong element count',
      () => silero([{ ...vadInput, data: [0, 0, 0] }, vadState, vadSr]),
      400,
      'input "input": shape [1,4] needs 4 elements, got 3',
    ],
    [
      'unknown input name',
      () => silero([vadInput, vadState, vadSr, { ...vadSr, name: 'rate' }]),
      400,
      'input "rate" is not an input of this model (inputs: input, state, sr)',
    ],
    ['missing input', () => silero([vadInput, vadState]), 400, 'missing input(s) "sr"'],
    [
      'non-numeric data',
      () => silero([{ ...vadInput, data: [0, 'loud', 0, 0] }, vadState, vadSr]),
      400,
      'input "input": element 1 is "loud", not a number',
    ],
    [
      'unknown datatype',
      () => silero([{ ...vadInput, datatype: 'FP99' }, vadState, vadSr]),
      400,
      'input "input": datatype "FP99" is not an Open Inference Protocol datatype',
    ],
    ['no inputs', () => silero([]), 400, '"inputs" must be a non-empty array'],
    [
      'unknown model',
      () =>
        request(t.server)
          .post('/v2/models/nope/infer')
          .send({ inputs: [vadInput] }),
      404,
      'model "nope" is not in the repository',
    ],
    [
      'unknown version',
      () =>
        request(t.server)
          .post('/v2/models/silero-vad/versions/9/infer')
          .send({ inputs: [vadInput] }),
      404,
      'model "silero-vad" has no version "9"',
    ],
    [
      'unknown output',
      () =>
        request(t.server)
          .post('/v2/models/silero-vad/infer')
          .send({ inputs: [vadInput, vadState, vadSr], outputs: [{ name: 'logits' }] }),
      400,
      'output "logits" is not an output of this model (outputs: output, stateN)',
    ],
    [
      'malformed JSON',
      () => request(t.server).post('/v2/models/silero-vad/infer').set('content-type', 'application/json').send('{"inputs": ['),
      400,
      'Body is not valid JSON',
    ],
  ];
  for (const [what, send, status, message] of badInputs) {
    it(`answers ${what} with ${status} and a message naming the problem`, async () => {
      const res = await send();
      assert.equal(res.status, status);
      assert.deepEqual(res.body, { error: message });
    });
  }

  it("reports statistics in the shape of Triton's statistics extension", async () => {
    const res = await request(t.server).get('/v2/models/silero-vad/stats');
    assert.equal(res.status, 200);
    const [stats] = res.body.model_stats;
    assert.equal(stats.name, 'silero-vad');
    assert.equal(stats.version, '1');
    // Warm-up (1), the exactness test (1) and the first bad-input cases that reach the model (0).
    assert.equal(stats.execution_count, 2);
    assert.equal(stats.inference_stats.success.count, 2);
    for (const key of ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss']) {
      assert.deepEqual(Object.keys(stats.inference_stats[key]).sort(), ['count', 'ns']);
    }
    // Batch sizes in rows: warm-up 1, the exactness test 3.
    assert.deepEqual(
      stats.batch_stats.map((b: { batch_size: number }) => b.batch_size),
      [1, 3],
    );
  });

  it('lists, unloads and reloads through the repository extension', async () => {
    const index = await request(t.server).post('/v2/repository/index').send({});
    assert.deepEqual(index.body, [
      { name: 'paddleocr-cls', version: '1', state: 'READY', reason: '' },
      { name: 'paddleocr-rec', version: '1', state: 'READY', reason: '' },
      { name: 'silero-batched', version: '1', state: 'READY', reason: '' },
      { name: 'silero-vad', version: '1', state: 'READY', reason: '' },
    ]);
    await request(t.server).post('/v2/repository/models/paddleocr-cls/unload').expect(200, {});
    const ready = await request(t.server).get('/v2/models/paddleocr-cls/ready');
    assert.deepEqual([ready.status, ready.body], [400, { error: 'model "paddleocr-cls" version 1 is not ready: unavailable (unloaded)' }]);
    assert.doesNotMatch((await request(t.server).get('/metrics')).text, /lathe_model_loaded\{model="paddleocr-cls"/);
    await request(t.server).post('/v2/repository/models/paddleocr-cls/load').expect(200, {});
    assert.equal((await request(t.server).get('/v2/models/paddleocr-cls/ready')).status, 200);
    const missing = await request(t.server).post('/v2/repository/models/nope/load');
    assert.deepEqual([missing.status, missing.body], [404, { error: 'model "nope" is not in the repository' }]);
  });
});

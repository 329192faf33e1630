/**
 * The decode loop under concurrent HTTP load on a generated decoder: continuous batching gives
 * every request exactly its tokens alone; a full loop answers 429 with Retry-After; a client that
 * goes away frees its sequence; bad requests get a 4xx with a code and nothing breaks.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type DecoderModel, decoderManifest, writeDecoderModel } from '../support/decoder-model.js';
import { random, writeManifest } from '../support/models.js';
import { makeTempDir } from '../support/processes.js';
import { metricValue } from '../support/prometheus.js';
import { ReferenceDecoder } from '../support/reference-decoder.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A streamed request on its own connection: status, when each data event came, and a way to hang up. */
function streamOpen(base: string, body: object) {
  const events: Array<{ at: number; data: string }> = [];
  let hangUp = () => {};
  const done = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      `${base}/v1/completions`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(payload.length) }, agent: false },
      (res) => {
        let text = '';
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          pending += chunk;
          let end: number;
          while ((end = pending.indexOf('\n\n')) >= 0) {
            const block = pending.slice(0, end);
            pending = pending.slice(end + 2);
            if (block.startsWith('data: ')) events.push({ at: performance.now(), data: block.slice(6) });
          }
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        res.on('error', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    hangUp = () => req.destroy();
    req.on('error', (err) => (req.destroyed ? resolve({ status: 0, headers: {}, body: '' }) : reject(err)));
    req.end(payload);
  });
  return { events, done, hangUp: () => hangUp() };
}

describe('the decode loop under load', () => {
  let root: string;
  let model: DecoderModel;
  let t: TestApp;
  let base: string;
  let reference: ReferenceDecoder;
  /** Bytes of cache per token: 2 layers × (key + value) × 2 heads × 16 × 4 bytes. */
  const perToken = 2 * 2 * 2 * 16 * 4;

  before(async () => {
    root = await makeTempDir('lathe-generation-load-');
    model = await writeDecoderModel(join(root, 'tiny-chat-hf'), 'tiny', 5);
    const models = join(root, 'models');
    await writeManifest(models, 'tiny-chat', decoderManifest(model));
    // Room for exactly two sequences of 4 + 200 tokens, and one more waiting.
    await writeManifest(models, 'tiny-chat-two', decoderManifest(model, { kvCacheBytes: 2 * 204 * perToken, queue: 1 }));
    await writeManifest(models, 'tiny-chat-one', decoderManifest(model, { maxSequences: 1, queue: 0 }));
    await writeManifest(models, 'sentiment-like', {
      task: 'text-classification',
      source: { file: join(model.dir, 'onnx/model.onnx') },
      inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [-1, -1] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, -1, -1] }],
    });
    t = await startTestApp({ LATHE_MODELS_DIR: models });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    reference = await ReferenceDecoder.load(join(model.dir, 'onnx/model.onnx'), model.dims);
  });

  after(async () => {
    await reference?.release();
    await t?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('40 concurrent requests arriving at random times, with mixed prompts and limits, each get exactly their tokens alone', async () => {
    const rand = random(40);
    const requests = Array.from({ length: 40 }, () => ({
      prompt: Array.from({ length: 1 + Math.floor(rand() * 50) }, () => Math.floor(rand() * (model.dims.vocab - 3))),
      maxTokens: 1 + Math.floor(rand() * 30),
      delayMs: Math.floor(rand() * 300),
    }));
    const before = await request(t.server).get('/metrics').expect(200);
    const answers = await Promise.all(
      requests.map(async (r) => {
        await sleep(r.delayMs);
        const res = await request(t.server)
          .post('/v1/completions')
          .send({ model: 'tiny-chat', prompt: r.prompt, max_tokens: r.maxTokens, temperature: 0, logprobs: 0 });
        return res;
      }),
    );
    for (const [i, r] of requests.entries()) {
      assert.equal(answers[i]!.status, 200, JSON.stringify(answers[i]!.body));
      const alone = (await reference.generate(r.prompt, r.maxTokens, model.eosTokenIds)).tokens;
      const choice = answers[i]!.body.choices[0];
      assert.equal(answers[i]!.body.usage.completion_tokens, alone.length, `request ${i}`);
      // Each logprob entry's token is the text of the id the sequence got alone.
      const { AutoTokenizer } = await import('@huggingface/transformers');
      const tokenizer = await AutoTokenizer.from_pretrained(model.dir);
      assert.deepEqual(
        choice.logprobs.tokens,
        alone.map((id) => tokenizer.decode([id], { skip_special_tokens: false })),
        `request ${i}`,
      );
    }
    const after = (await request(t.server).get('/metrics').expect(200)).text;
    const steps =
      metricValue(after, 'lathe_generation_decode_steps_total', 'tiny-chat') -
      metricValue(before.text, 'lathe_generation_decode_steps_total', 'tiny-chat');
    const rows =
      metricValue(after, 'lathe_generation_decode_rows_total', 'tiny-chat') -
      metricValue(before.text, 'lathe_generation_decode_rows_total', 'tiny-chat');
    const joined =
      metricValue(after, 'lathe_generation_joined_running_batch_total', 'tiny-chat') -
      metricValue(before.text, 'lathe_generation_joined_running_batch_total', 'tiny-chat');
    assert.ok(rows / steps > 1.5, `mean decode batch ${rows / steps} over ${steps} steps`);
    assert.ok(joined > 0, `${joined} sequences joined a running batch`);
  });

  it('with room for two sequences and one waiting, five at once give two running, one queued and two 429 with Retry-After', async () => {
    const body = { model: 'tiny-chat-two', prompt: [1, 2, 3, 4], max_tokens: 200, temperature: 0, ignore_eos: true, stream: true };
    const streams = Array.from({ length: 5 }, () => streamOpen(base, body));
    const results = await Promise.all(streams.map((s) => s.done));
    const refused = results.filter((r) => r.status === 429);
    const served = results.map((r, i) => ({ r, s: streams[i]! })).filter(({ r }) => r.status === 200);
    assert.equal(refused.length, 2);
    assert.equal(served.length, 3);
    for (const r of refused) {
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(JSON.parse(r.body).error.code, 'OVERLOADED');
    }
    // The queued one's first token comes after one of the two running ones has finished.
    const firstToken = served.map(
      ({ s }) => s.events.find((e) => JSON.parse(e.data === '[DONE]' ? '{}' : e.data).choices?.[0]?.text !== undefined)!.at,
    );
    const finished = served.map(({ s }) => s.events.at(-1)!.at);
    const queued = firstToken.indexOf(Math.max(...firstToken));
    const others = [0, 1, 2].filter((i) => i !== queued);
    assert.ok(Math.min(...others.map((i) => finished[i]!)) <= firstToken[queued]!, 'the third waited for a free slot');
    for (const { r } of served) assert.equal(r.body.endsWith('data: [DONE]\n\n'), true);
  });

  it('a streamed request whose client hangs up frees its sequence: the loop stops generating for it', async () => {
    const body = { model: 'tiny-chat-one', prompt: [5, 6, 7], max_tokens: 240, temperature: 0, ignore_eos: true, stream: true };
    const stream = streamOpen(base, body);
    while (stream.events.length < 4) await sleep(1);
    stream.hangUp();
    await stream.done;
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline) {
      text = (await request(t.server).get('/metrics').expect(200)).text;
      if (metricValue(text, 'lathe_generation_requests_total', 'tiny-chat-one', 'finish_reason="cancelled"') === 1) break;
      await sleep(10);
    }
    assert.equal(metricValue(text, 'lathe_generation_requests_total', 'tiny-chat-one', 'finish_reason="cancelled"'), 1);
    const generated = metricValue(text, 'lathe_generation_tokens_total', 'tiny-chat-one', 'kind="completion"');
    assert.ok(generated < 240, `the loop stopped after ${generated} of 240 tokens`);
    // Its one slot is free again: a new request runs at once (the model takes one sequence and no queue).
    await request(t.server)
      .post('/v1/completions')
      .send({ model: 'tiny-chat-one', prompt: [5, 6, 7], max_tokens: 3, temperature: 0 })
      .expect(200);
    const later = (await request(t.server).get('/metrics').expect(200)).text;
    assert.equal(metricValue(later, 'lathe_generation_tokens_total', 'tiny-chat-one', 'kind="completion"'), generated + 3);
  });

  it('bad requests get a 4xx with a code, and the model keeps serving', async () => {
    const chat = (body: object) => request(t.server).post('/v1/chat/completions').send(body);
    const cases: Array<[string, () => request.Test, number, string, RegExp]> = [
      ['empty messages', () => chat({ model: 'tiny-chat', messages: [] }), 400, 'VALIDATION_FAILED', /messages/],
      [
        'an unknown role',
        () => chat({ model: 'tiny-chat', messages: [{ role: 'wizard', content: 'hi' }] }),
        400,
        'VALIDATION_FAILED',
        /role/,
      ],
      [
        'a prompt over the context',
        () =>
          request(t.server)
            .post('/v1/completions')
            .send({ model: 'tiny-chat', prompt: Array(300).fill(7), max_tokens: 4 }),
        400,
        'CONTEXT_LENGTH_EXCEEDED',
        /context is 256 tokens, but 300 prompt tokens/,
      ],
      [
        'max_tokens 0',
        () => chat({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }),
        400,
        'VALIDATION_FAILED',
        /max_tokens/,
      ],
      [
        'max_tokens 10^9',
        () => chat({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1e9 }),
        400,
        'VALIDATION_FAILED',
        /max_tokens/,
      ],
      [
        'temperature -1',
        () => chat({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], temperature: -1 }),
        400,
        'VALIDATION_FAILED',
        /temperature/,
      ],
      [
        'top_p 2',
        () => chat({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], top_p: 2 }),
        400,
        'VALIDATION_FAILED',
        /top_p/,
      ],
      [
        'a model of another task',
        () => chat({ model: 'sentiment-like', messages: [{ role: 'user', content: 'hi' }] }),
        400,
        'VALIDATION_FAILED',
        /text-classification model/,
      ],
      ['an unknown model', () => chat({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }), 404, 'MODEL_NOT_FOUND', /nope/],
      [
        'invalid UTF-8',
        () =>
          request(t.server)
            .post('/v1/chat/completions')
            .set('content-type', 'application/json')
            .serialize((raw: Buffer) => raw as never)
            .send(
              Buffer.concat([
                Buffer.from('{"model":"tiny-chat","messages":[{"role":"user","content":"'),
                Buffer.from([0xc3, 0x28]),
                Buffer.from('"}]}'),
              ]),
            ),
        400,
        'INVALID_UTF8',
        /UTF-8/,
      ],
      [
        'a token id outside the vocabulary',
        () =>
          request(t.server)
            .post('/v1/completions')
            .send({ model: 'tiny-chat', prompt: [1, 512], max_tokens: 2 }),
        400,
        'VALIDATION_FAILED',
        /prompt\.1/,
      ],
      [
        'a stop string too many',
        () =>
          request(t.server)
            .post('/v1/completions')
            .send({ model: 'tiny-chat', prompt: 'hi', stop: ['a', 'b', 'c', 'd', 'e'] }),
        400,
        'VALIDATION_FAILED',
        /stop/,
      ],
    ];
    for (const [what, send, status, code, message] of cases) {
      const res = await send();
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.code, code, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, message, what);
    }
    // The /v2 routes answer errors in Triton's shape: {"error": "<message>"}.
    const triton = await request(t.server)
      .post('/v2/models/tiny-chat/generate')
      .send({ parameters: { max_tokens: 2 } })
      .expect(400);
    assert.deepEqual(triton.body, { error: 'invalid request: text_input: Invalid input: expected string, received undefined' });
    const overContext = await request(t.server)
      .post('/v2/models/tiny-chat/generate')
      .send({ text_input: 'hi', max_tokens: 400 })
      .expect(400);
    assert.match(overContext.body.error, /context is 256 tokens/);
    await request(t.server)
      .post('/v1/chat/completions')
      .send({ model: 'tiny-chat', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 4 })
      .expect(200);
  });
});

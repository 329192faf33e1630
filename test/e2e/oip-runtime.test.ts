import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import request from 'supertest';
import { ModelRepository } from '../../src/models/model-repository.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/processes.js';
import { binaryRequest, makeModelRepository, maxAbsDiff, OCR_ASSETS, random, randomFloats } from '../support/models.js';

const CLS_PATH = join(OCR_ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const DET_PATH = join(OCR_ASSETS, 'ch_PP-OCRv4_det_infer.onnx');
const CLS_ROW = 3 * 48 * 192;

/** The direction classifier with a long batching window, so concurrent requests are merged. */
const batchingCls = {
  task: 'text-orientation',
  source: { file: CLS_PATH },
  inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 48, 192] }],
  outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [2] }],
  maxBatchSize: 16,
  dynamicBatching: { maxQueueDelayMicroseconds: 20_000 },
  instances: 1,
};

/** Text detection on one thread: slow on a large image, for the event-loop and overload tests. */
const slowDet = (maxSize: number) => ({
  task: 'text-detection',
  source: { file: DET_PATH },
  inputs: [{ name: 'x', datatype: 'FP32', shape: [3, -1, -1] }],
  outputs: [{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [1, -1, -1] }],
  maxBatchSize: 1,
  instances: 1,
  intraOpThreads: 1,
  queue: { maxSize },
  timeoutMs: 120_000,
});

const binaryInfer = (t: TestApp, model: string, shape: number[], data: Float32Array) => {
  // Binary out as well as in: a 1600x1600 probability map as JSON numbers would take longer to print than to compute.
  const { body, headerLength } = binaryRequest([{ name: 'x', datatype: 'FP32', shape, data }], [{ name: 'sigmoid_0.tmp_0', binary: true }]);
  return request(t.server)
    .post(`/v2/models/${model}/infer`)
    .set('content-type', 'application/octet-stream')
    .set('inference-header-content-length', String(headerLength))
    .send(body);
};

describe('runtime: batching, event loop, backpressure, lifecycle', () => {
  let t: TestApp;
  let modelsDir: string;
  before(async () => {
    modelsDir = await makeModelRepository(['paddleocr-cls'], {
      'cls-batching': batchingCls,
      'det-slow': slowDet(3),
      broken: { ...batchingCls, source: { file: 'model.onnx' } },
    });
    await writeFile(join(modelsDir, 'broken', '1', 'model.onnx'), Buffer.from('this is not an ONNX model'));
    t = await startTestApp({ LATHE_MODELS_DIR: modelsDir });
  });
  after(async () => {
    await t.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  const jsonOutputs = ({ body, headerLength }: { body: Buffer; headerLength: number }) =>
    request(t.server)
      .post('/v2/models/cls-batching/infer')
      .set('content-type', 'application/octet-stream')
      .set('inference-header-content-length', String(headerLength))
      .send(body);

  it('gives each request of a dynamically batched run what it would get alone (property test)', async (ctx) => {
    const session = await ort.InferenceSession.create(CLS_PATH);
    const rand = random(42);
    let requests = 0;
    for (let round = 0; round < 25; round += 1) {
      const sizes = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => 1 + Math.floor(rand() * 3));
      const inputs = sizes.map((rows) => randomFloats(rows * CLS_ROW, rand));
      // JSON and binary tensor data mixed, so batches join decoded arrays with raw body bytes.
      const responses = await Promise.all(
        inputs.map((data, i) =>
          i % 2 === 0
            ? request(t.server)
                .post('/v2/models/cls-batching/infer')
                .send({ inputs: [{ name: 'x', datatype: 'FP32', shape: [sizes[i], 3, 48, 192], data: [...data] }] })
            : jsonOutputs(binaryRequest([{ name: 'x', datatype: 'FP32', shape: [sizes[i]!, 3, 48, 192], data }])),
        ),
      );
      requests += sizes.length;
      for (const [i, res] of responses.entries()) {
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body.outputs[0].shape, [sizes[i], 2]);
        // Unbatched reference: each row of the request on its own.
        for (let row = 0; row < sizes[i]!; row += 1) {
          const one = inputs[i]!.subarray(row * CLS_ROW, (row + 1) * CLS_ROW);
          const alone = (await session.run({ x: new ort.Tensor('float32', one, [1, 3, 48, 192]) }))['softmax_0.tmp_0']!
            .data as Float32Array;
          assert.ok(
            maxAbsDiff(res.body.outputs[0].data.slice(row * 2, row * 2 + 2), alone) <= 1e-5,
            `round ${round} request ${i} row ${row}`,
          );
        }
      }
    }
    await session.release();
    const [stats] = (await request(t.server).get('/v2/models/cls-batching/stats')).body.model_stats;
    const merged = stats.batch_stats.filter((b: { batch_size: number }) => b.batch_size > 3);
    ctx.diagnostic(
      `${requests} requests ran in ${stats.execution_count} executions; batch sizes ${stats.batch_stats.map((b: { batch_size: number }) => b.batch_size).join(',')}`,
    );
    assert.ok(stats.execution_count < requests, 'requests were merged into batches');
    assert.ok(merged.length > 0, 'some batches held more rows than any single request');
  });

  it('answers exactly k of Q+k concurrent requests with 429 and Retry-After, and serves the other Q', async () => {
    const Q = 3;
    const k = 2;
    const side = 800;
    const image = randomFloats(3 * side * side, random(5));
    const responses = await Promise.all(Array.from({ length: Q + k }, () => binaryInfer(t, 'det-slow', [1, 3, side, side], image)));
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    for (const r of responses.filter((x) => x.status === 429)) {
      assert.match(r.headers['retry-after'], /^[1-9]\d*$/);
      assert.deepEqual(r.body, { error: `model "det-slow" has ${Q} requests in progress (limit ${Q}); retry later` });
    }
    const metrics = (await request(t.server).get('/metrics')).text;
    assert.match(metrics, /^lathe_model_requests_total\{model="det-slow",version="1",outcome="overloaded"\} 2$/m);
  });

  it('returns to its memory baseline after 50 loads and unloads; a corrupt model fails cleanly', async (ctx) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const settle = async () => {
      gc?.();
      await new Promise((r) => setTimeout(r, 200));
      gc?.();
      return process.memoryUsage().rss;
    };
    const cycle = async () => {
      await request(t.server).post('/v2/repository/models/paddleocr-cls/load').expect(200);
      await request(t.server).post('/v2/repository/models/paddleocr-cls/unload').expect(200);
    };
    for (let i = 0; i < 3; i += 1) await cycle(); // allocator and module caches reach steady state
    const baseline = await settle();
    for (let i = 0; i < 50; i += 1) await cycle();
    const afterCycles = await settle();

    for (let i = 0; i < 5; i += 1) {
      const res = await request(t.server).post('/v2/repository/models/broken/load');
      assert.equal(res.status, 503);
      assert.match(res.body.error, /^model "broken" failed to load: .*(protobuf|parse|Load model)/i);
    }
    const afterBroken = await settle();
    const index = (await request(t.server).post('/v2/repository/index').send({})).body;
    assert.match(index.find((r: { name: string }) => r.name === 'broken').reason, /^load failed: /, 'a re-index keeps the load failure');
    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    ctx.diagnostic(
      `RSS baseline ${mb(baseline)} MiB, after 50 load/unload ${mb(afterCycles)} MiB (${((afterCycles / baseline - 1) * 100).toFixed(1)}%), after 5 failed loads ${mb(afterBroken)} MiB`,
    );
    assert.ok(afterCycles <= baseline * 1.1, `RSS ${mb(afterCycles)} MiB vs baseline ${mb(baseline)} MiB`);
    assert.ok(afterBroken <= baseline * 1.1);
  });

  it('replaces a session worker that dies and serves on the new one', async () => {
    await request(t.server).post('/v2/repository/models/det-slow/load').expect(200);
    const models = t.app.get(ModelRepository);
    const runner = models.loaded(models.version('det-slow'))!;
    type Workers = Array<{ threadId: number; worker: { terminate(): Promise<number> } }>;
    const workers = (runner as unknown as { pool: { workers: Workers } }).pool.workers;
    const dead = workers[0]!.threadId;
    // Fault injection on an idle instance: ending a thread inside a native ONNX Runtime call aborts the
    // whole process (as any native crash would), so the thread is ended between runs.
    await workers[0]!.worker.terminate();
    await waitFor(async () => (workers.length === 1 && workers[0]!.threadId !== dead ? true : undefined), 10_000, 'a replacement instance');
    const after = await binaryInfer(t, 'det-slow', [1, 3, 64, 64], randomFloats(3 * 64 * 64, random(1)));
    assert.equal(after.status, 200, 'the new instance serves');
    assert.match((await request(t.server).get('/metrics')).text, /^lathe_model_instance_crashes_total\{model="det-slow",version="1"\} 1$/m);
  });
});

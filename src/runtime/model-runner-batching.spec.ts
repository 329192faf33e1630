import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { maxAbsDiff, quietRunnerEvents, random, randomFloats, SILERO_PATH } from '../../test/support/models.js';
import { ModelRunner } from './model-runner.js';
import type { NamedTensors } from '../contracts/tensor.js';

const quiet = quietRunnerEvents();

/** Silero's recurrent state is [2, batch, 128]: its batch axis is 1, and the sample rate has none. */
const AXES = { input: 0, state: 1, sr: null, output: 0, stateN: 1 };

function sileroRequest(rows: number, rand: () => number, sampleRate = 16000n): NamedTensors {
  return {
    input: { datatype: 'FP32', shape: [rows, 576], data: randomFloats(rows * 576, rand, 0.3) },
    state: { datatype: 'FP32', shape: [2, rows, 128], data: randomFloats(2 * rows * 128, rand, 0.5) },
    sr: { datatype: 'INT64', shape: [], data: BigInt64Array.of(sampleRate) },
  };
}

describe("ModelRunner batching along each tensor's batch axis, with the next batch posted early", () => {
  let runner: ModelRunner;
  let session: ort.InferenceSession;
  before(async () => {
    runner = new ModelRunner(
      {
        name: 'silero',
        version: '1',
        worker: { kind: 'session', modelPath: SILERO_PATH },
        providers: ['cpu'],
        instances: 1,
        intraOpThreads: 1,
        maxQueueSize: 64,
        timeoutMs: 30_000,
        batching: { maxBatchSize: 4, axes: AXES, preferredBatchSizes: [], maxQueueDelayUs: 0 },
      },
      quiet,
    );
    await runner.start();
    session = await ort.InferenceSession.create(SILERO_PATH);
  });
  after(async () => {
    await runner.stop();
    await session.release();
  });

  /** Each request's answer must be what running it alone gives. */
  async function checkAlone(inputs: NamedTensors, outputs: NamedTensors): Promise<void> {
    const feeds = {
      input: new ort.Tensor('float32', inputs.input!.data as Float32Array, inputs.input!.shape),
      state: new ort.Tensor('float32', inputs.state!.data as Float32Array, inputs.state!.shape),
      sr: new ort.Tensor('int64', inputs.sr!.data as BigInt64Array, []),
    };
    const direct = await session.run(feeds);
    assert.deepEqual(outputs.stateN!.shape, inputs.state!.shape);
    assert.ok(maxAbsDiff(outputs.output!.data as Float32Array, direct.output!.data as Float32Array) <= 1e-6);
    assert.ok(maxAbsDiff(outputs.stateN!.data as Float32Array, direct.stateN!.data as Float32Array) <= 1e-6);
  }

  const batchSizes = () => runner.stats.snapshot().batch_stats.map((b) => [b.batch_size, b.compute_infer.count]);
  /** Submits `first` and lets the runner post it (it dispatches after the event loop's poll phase) before the others. */
  const firstAlone = <T>(first: Promise<T>) => new Promise<{ first: Promise<T> }>((resolve) => setImmediate(() => resolve({ first })));

  it('holds an incomplete batch back while the instance is busy, so it can still grow, and splits answers exactly', async () => {
    const rand = random(3);
    // The first runs at once; the next two (2 rows < 4) wait for the instance, then run together.
    const requests = [1, 1, 1].map((rows) => sileroRequest(rows, rand));
    const copies = requests.map((r) => structuredClone(r));
    const infer = (r: NamedTensors) => runner.infer(r, ['output', 'stateN'], r.input!.shape[0]!);
    const { first } = await firstAlone(infer(requests[0]!));
    const results = await Promise.all([first, ...requests.slice(1).map(infer)]);
    for (const [i, result] of results.entries()) await checkAlone(copies[i]!, result.outputs);
    assert.deepEqual(batchSizes(), [
      [1, 1],
      [2, 1],
    ]);
  });

  it('posts a complete batch while the instance is busy, and never merges requests whose unbatched inputs differ', async () => {
    const rand = random(4);
    const requests = [
      sileroRequest(1, rand),
      sileroRequest(1, rand),
      sileroRequest(3, rand),
      sileroRequest(1, rand, 8000n),
      sileroRequest(1, rand),
    ];
    // 8 kHz windows are 256 + 32 samples.
    requests[3]!.input = { datatype: 'FP32', shape: [1, 288], data: randomFloats(288, rand, 0.3) };
    const copies = requests.map((r) => structuredClone(r));
    const infer = (r: NamedTensors) => runner.infer(r, ['output', 'stateN'], r.input!.shape[0]!);
    const { first } = await firstAlone(infer(requests[0]!));
    const results = await Promise.all([first, ...requests.slice(1).map(infer)]);
    for (const [i, result] of results.entries()) await checkAlone(copies[i]!, result.outputs);
    // Alone: the first (1 row); then 1 + 3 = 4 rows at 16 kHz together; the 8 kHz request alone; the last alone.
    assert.deepEqual(batchSizes(), [
      [1, 4],
      [2, 1],
      [4, 1],
    ]);
  });

  it('posts the requests of one event-loop turn to an idle instance in one batch', async () => {
    const rand = random(5);
    const requests = [1, 1, 1].map((rows) => sileroRequest(rows, rand));
    const copies = requests.map((r) => structuredClone(r));
    const results = await Promise.all(requests.map((r) => runner.infer(r, ['output', 'stateN'], r.input!.shape[0]!)));
    for (const [i, result] of results.entries()) await checkAlone(copies[i]!, result.outputs);
    assert.deepEqual(batchSizes(), [
      [1, 4],
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
  });
});

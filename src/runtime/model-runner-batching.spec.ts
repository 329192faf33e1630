import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { quietRunnerEvents, random, randomFloats, SILERO_PATH } from '../../test/support/models.js';
import { assertAnswersAlone, SILERO_AXES, sileroRequest, sileroRunnerOptions } from '../../test/support/silero-runner.js';
import { ModelRunner } from './model-runner.js';
import type { NamedTensors } from '../contracts/tensor.js';

const quiet = quietRunnerEvents();

describe("ModelRunner batching along each tensor's batch axis, with the next batch posted early", () => {
  let runner: ModelRunner;
  let session: ort.InferenceSession;
  before(async () => {
    runner = new ModelRunner(
      sileroRunnerOptions({ batching: { maxBatchSize: 4, axes: SILERO_AXES, preferredBatchSizes: [], maxQueueDelayUs: 0 } }),
      quiet,
    );
    await runner.start();
    session = await ort.InferenceSession.create(SILERO_PATH);
  });
  after(async () => {
    await runner.stop();
    await session.release();
  });

  const checkAlone = (inputs: NamedTensors, outputs: NamedTensors) => assertAnswersAlone(session, inputs, outputs);

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

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { maxAbsDiff, quietRunnerEvents, random, SILERO_PATH } from '../../test/support/models.js';
import { sileroRunnerOptions } from '../../test/support/silero-runner.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { ModelRunner, type RunnerOptions } from './model-runner.js';
import { runScan } from './scan-loop.js';
import { type ScanSpec, scanSpecSchema } from '../contracts/scan-spec.js';

const SILERO: ScanSpec = scanSpecSchema.parse({
  input: 'input',
  windowSize: 512,
  contextSize: 64,
  state: [{ input: 'state', output: 'stateN' }],
  constants: [{ name: 'sr', datatype: 'INT64', shape: [], value: [16000] }],
  output: 'output',
});

const quiet = quietRunnerEvents();

async function startRunner(options: Partial<RunnerOptions> = {}): Promise<ModelRunner> {
  const runner = new ModelRunner(sileroRunnerOptions({ maxQueueSize: 8, ...options }), quiet);
  await runner.start();
  return runner;
}

/** Bursts of a chirp between quiet stretches: enough structure for the state to matter. */
function signal(seconds: number, seed = 1): Float32Array {
  const rand = random(seed);
  return Float32Array.from({ length: Math.round(seconds * 16000) }, (_, i) => {
    const t = i / 16000;
    const burst = Math.floor(t / 0.7) % 2 === 0 ? 0.4 * Math.sin(2 * Math.PI * (200 + 300 * (t % 0.7)) * t) : 0;
    return burst + (rand() - 0.5) * 0.01;
  });
}

const rejectsWithCode = (promise: Promise<unknown>, code: ErrorCode, message: RegExp) =>
  assert.rejects(promise, (err: unknown) => err instanceof AppError && err.code === code && message.test(err.message));

describe('runScan (the loop shared by session workers and in-process tests)', () => {
  let session: ort.InferenceSession;
  before(async () => {
    session = await ort.InferenceSession.create(SILERO_PATH);
  });
  after(() => session.release());

  it("gives what Silero's own per-chunk loop gives: context = tail of the previous chunk, state fed back, last chunk zero-padded", async () => {
    const x = signal(3.3);
    const ours = await runScan(session, SILERO, x);
    let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]);
    let context = new Float32Array(64);
    const expected: number[] = [];
    for (let start = 0; start < x.length; start += 512) {
      const chunk = new Float32Array(512);
      chunk.set(x.subarray(start, start + 512));
      const input = new Float32Array(576);
      input.set(context);
      input.set(chunk, 64);
      const out = await session.run({
        input: new ort.Tensor('float32', input, [1, 576]),
        state,
        sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
      });
      expected.push((out.output!.data as Float32Array)[0]!);
      state = out.stateN!;
      context = input.slice(512);
    }
    assert.equal(ours.steps, Math.ceil(x.length / 512));
    assert.equal(ours.perStep, 1);
    assert.deepEqual(Array.from(ours.values), expected);
  });

  it('names a missing input or output, and gives nothing for an empty signal', async () => {
    await assert.rejects(
      runScan(session, { ...SILERO, input: 'audio' }, signal(0.1)),
      /scan names input "audio", which the model does not have \(it has input, state, sr\)/,
    );
    await assert.rejects(runScan(session, { ...SILERO, state: [{ input: 'state', output: 'hn' }] }, signal(0.1)), /output "hn"/);
    assert.equal((await runScan(session, SILERO, new Float32Array(0))).values.length, 0);
  });
});

describe('ModelRunner.scan', () => {
  let runner: ModelRunner;
  let session: ort.InferenceSession;
  before(async () => {
    [runner, session] = await Promise.all([startRunner(), ort.InferenceSession.create(SILERO_PATH)]);
  });
  after(async () => {
    await runner.stop();
    await session.release();
  });

  it('runs the whole signal in the worker and returns the per-window outputs, counted as one request', async () => {
    const x = signal(20);
    const [scanned, local] = await Promise.all([runner.scan(SILERO, x), runScan(session, SILERO, x)]);
    assert.equal(scanned.steps, 625);
    assert.equal(scanned.perStep, 1);
    assert.ok(maxAbsDiff(scanned.values, local.values) < 1e-5);
    assert.ok(scanned.inferenceMs > 0);
    const stats = runner.stats.snapshot();
    assert.deepEqual([stats.execution_count, stats.inference_count, stats.inference_stats.success.count], [1, 1, 1]);
    assert.equal(x.length, 320_000, 'the caller keeps its signal');
    const moved = await runner.scan(SILERO, x, { transfer: true });
    assert.deepEqual(moved.values, scanned.values);
    assert.equal(x.length, 0, 'transfer hands the buffer to the worker');
  });

  it('queues behind other work on the same worker and is never merged with it', async () => {
    const probe = {
      input: { datatype: 'FP32' as const, shape: [1, 576], data: new Float32Array(576) },
      state: { datatype: 'FP32' as const, shape: [2, 1, 128], data: new Float32Array(256) },
      sr: { datatype: 'INT64' as const, shape: [], data: BigInt64Array.of(16000n) },
    };
    const [long, single, short] = await Promise.all([
      runner.scan(SILERO, signal(5)),
      runner.infer(probe, ['output'], 1),
      runner.scan(SILERO, signal(1, 2)),
    ]);
    assert.equal(long.steps, 157);
    assert.deepEqual(single.outputs.output!.shape, [1, 1]);
    assert.equal(short.steps, 32);
  });

  it("fails a bad spec with the worker's reason", () =>
    rejectsWithCode(runner.scan({ ...SILERO, output: 'prob' }, signal(0.1)), ErrorCode.ValidationFailed, /scan names output "prob"/));
});

describe('ModelRunner.scan: bounded queue and deadline', () => {
  it('answers 429 at once when the queue is full', async () => {
    const runner = await startRunner({ maxQueueSize: 1 });
    try {
      const first = runner.scan(SILERO, signal(10));
      await rejectsWithCode(runner.scan(SILERO, signal(0.1)), ErrorCode.Overloaded, /1 requests in progress \(limit 1\)/);
      assert.equal((await first).steps, 313);
    } finally {
      await runner.stop();
    }
  });

  it('stops a scan in the worker at its deadline, so the worker is free again soon after', async () => {
    const runner = await startRunner({ timeoutMs: 300 });
    try {
      const long = signal(600);
      const started = Date.now();
      // Transferred, so that the worker starts at once instead of copying 38 MB first.
      await rejectsWithCode(runner.scan(SILERO, long, { transfer: true }), ErrorCode.DeadlineExceeded, /did not answer within 300 ms/);
      // Ten minutes take seconds to scan; a stopped scan frees the worker for this one at once.
      const next = await runner.scan(SILERO, signal(0.5));
      const elapsed = Date.now() - started;
      assert.equal(next.steps, 16);
      assert.ok(elapsed < 1500, `the next scan finished ${elapsed} ms after the first started`);
    } finally {
      await runner.stop();
    }
  });
});

describe('ModelRunner.infer with a tensor it has already sent', () => {
  it('fails at once instead of waiting for the deadline', async () => {
    const runner = await startRunner({ timeoutMs: 60_000 });
    try {
      const inputs = {
        input: { datatype: 'FP32' as const, shape: [1, 576], data: new Float32Array(576) },
        state: { datatype: 'FP32' as const, shape: [2, 1, 128], data: new Float32Array(256) },
        sr: { datatype: 'INT64' as const, shape: [], data: BigInt64Array.of(16000n) },
      };
      await runner.infer(inputs, ['output'], 1);
      const started = Date.now();
      await rejectsWithCode(runner.infer(inputs, ['output'], 1), ErrorCode.Internal, /input "\w+" has no data left/);
      assert.ok(Date.now() - started < 1000);
    } finally {
      await runner.stop();
    }
  });
});

import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import type { NamedTensors } from '../../src/contracts/tensor.js';
import type { RunnerOptions } from '../../src/runtime/model-runner.js';
import { maxAbsDiff, randomFloats, SILERO_PATH } from './models.js';

/** Silero's recurrent state is [2, batch, 128]: its batch axis is 1, and the sample rate has none. */
export const SILERO_AXES = { input: 0, state: 1, sr: null, output: 0, stateN: 1 };

/** A ModelRunner over Silero VAD: one CPU worker of one thread, no batching unless `options` say. */
export function sileroRunnerOptions(options: Partial<RunnerOptions> = {}): RunnerOptions {
  return {
    name: 'silero',
    version: '1',
    worker: { kind: 'session', modelPath: SILERO_PATH },
    providers: ['cpu'],
    instances: 1,
    intraOpThreads: 1,
    maxQueueSize: 64,
    timeoutMs: 30_000,
    batching: null,
    ...options,
  };
}

/** `rows` random windows with their states, as one `run` request. */
export function sileroRequest(rows: number, rand: () => number, sampleRate = 16000n): NamedTensors {
  return {
    input: { datatype: 'FP32', shape: [rows, 576], data: randomFloats(rows * 576, rand, 0.3) },
    state: { datatype: 'FP32', shape: [2, rows, 128], data: randomFloats(2 * rows * 128, rand, 0.5) },
    sr: { datatype: 'INT64', shape: [], data: BigInt64Array.of(sampleRate) },
  };
}

/** A request's answer must be what running it alone in `session` gives (within 1e-6). */
export async function assertAnswersAlone(session: ort.InferenceSession, inputs: NamedTensors, outputs: NamedTensors): Promise<void> {
  const direct = await session.run({
    input: new ort.Tensor('float32', inputs.input!.data as Float32Array, inputs.input!.shape),
    state: new ort.Tensor('float32', inputs.state!.data as Float32Array, inputs.state!.shape),
    sr: new ort.Tensor('int64', inputs.sr!.data as BigInt64Array, []),
  });
  assert.deepEqual(outputs.stateN!.shape, inputs.state!.shape);
  assert.ok(maxAbsDiff(outputs.output!.data as Float32Array, direct.output!.data as Float32Array) <= 1e-6);
  assert.ok(maxAbsDiff(outputs.stateN!.data as Float32Array, direct.stateN!.data as Float32Array) <= 1e-6);
}

import ort from 'onnxruntime-node';
import { ORT_TYPE_OF } from './ort-types.js';
import type { ScanConstantSpec, ScanSpec, ScanStateSpec } from '../contracts/scan-spec.js';
import { elementCount, TYPED_ARRAY_OF } from '../contracts/tensor.js';

export interface ScanOutcome {
  /** The collected output of every window, concatenated: steps × perStep values. */
  values: Float32Array;
  steps: number;
  perStep: number;
  /** Time spent inside session.run, summed over the windows. */
  inferNs: number;
}

/** Thrown when a scan passes its deadline: the worker answers DEADLINE_EXCEEDED, not a model error. */
export class ScanDeadlineExceeded extends Error {}

/** How often the loop looks at the clock: often enough to stop within a few ms of the deadline. */
const DEADLINE_CHECK_EVERY = 32;

/**
 * Runs a recurrent model over `signal` window by window (see ScanSpec), feeding each window's
 * state outputs back as the next window's state inputs. Shared by the session worker and by tests
 * that run a model in-process, so both see the same loop.
 * `deadline` is a Date.now() value; past it the scan stops with ScanDeadlineExceeded.
 */
export async function runScan(
  session: ort.InferenceSession,
  spec: ScanSpec,
  signal: Float32Array,
  deadline = Infinity,
): Promise<ScanOutcome> {
  checkNames(session, spec);
  const { windowSize, contextSize } = spec;
  const steps = Math.ceil(signal.length / windowSize);
  const frame = new Float32Array(contextSize + windowSize);
  const feeds: Record<string, ort.Tensor> = {};
  for (const c of spec.constants) feeds[c.name] = constantTensor(c);
  for (const s of spec.state) feeds[s.input] = zeroState(session, s);
  const fetches = [spec.output, ...spec.state.map((s) => s.output)];
  let values = new Float32Array(0);
  let perStep = 0;
  let inferNs = 0;
  for (let step = 0; step < steps; step += 1) {
    if (step % DEADLINE_CHECK_EVERY === 0 && Date.now() > deadline) {
      throw new ScanDeadlineExceeded(`deadline exceeded after ${step} of ${steps} windows`);
    }
    // The context is the tail of the previous frame: copyWithin handles any context size.
    frame.copyWithin(0, windowSize);
    const start = step * windowSize;
    const chunk = signal.subarray(start, start + windowSize);
    frame.set(chunk, contextSize);
    if (chunk.length < windowSize) frame.fill(0, contextSize + chunk.length);
    feeds[spec.input] = new ort.Tensor('float32', frame, [1, frame.length]);
    const started = process.hrtime.bigint();
    const results = await session.run(feeds, fetches);
    inferNs += Number(process.hrtime.bigint() - started);
    const out = results[spec.output]!;
    if (step === 0) {
      perStep = out.size;
      values = new Float32Array(steps * perStep);
    } else if (out.size !== perStep) {
      throw new Error(`output "${spec.output}" has ${out.size} values at window ${step}, ${perStep} at window 0`);
    }
    copyAsFloat(out.data, values, step * perStep);
    for (const s of spec.state) feeds[s.input] = results[s.output]!;
  }
  return { values, steps, perStep, inferNs };
}

function checkNames(session: ort.InferenceSession, spec: ScanSpec): void {
  const inputs = new Set(session.inputNames);
  const outputs = new Set(session.outputNames);
  const wanted: Array<[string, Set<string>, string]> = [
    [spec.input, inputs, 'input'],
    [spec.output, outputs, 'output'],
    ...spec.state.flatMap((s): Array<[string, Set<string>, string]> => [
      [s.input, inputs, 'input'],
      [s.output, outputs, 'output'],
    ]),
    ...spec.constants.map((c): [string, Set<string>, string] => [c.name, inputs, 'input']),
  ];
  for (const [name, names, kind] of wanted) {
    if (!names.has(name)) throw new Error(`scan names ${kind} "${name}", which the model does not have (it has ${[...names].join(', ')})`);
  }
}

function constantTensor(c: ScanConstantSpec): ort.Tensor {
  const Typed = TYPED_ARRAY_OF[c.datatype];
  const data = new Typed(c.value.length);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  c.value.forEach((v, i) => (data[i] = big ? BigInt(v) : v));
  return new ort.Tensor(ORT_TYPE_OF[c.datatype] as 'float32', data as Float32Array, c.shape);
}

function zeroState(session: ort.InferenceSession, s: ScanStateSpec): ort.Tensor {
  const meta = session.inputMetadata.find((m) => m.name === s.input);
  const declared = meta?.isTensor ? meta.shape : [];
  const shape = s.shape ?? declared.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const type = meta?.isTensor ? meta.type : 'float32';
  if (type !== 'float32') throw new Error(`scan state input "${s.input}" is ${type}; only float32 state is supported`);
  return new ort.Tensor('float32', new Float32Array(elementCount(shape)), shape);
}

function copyAsFloat(data: ort.Tensor['data'], into: Float32Array, offset: number): void {
  if (data instanceof Float32Array) {
    into.set(data, offset);
    return;
  }
  const n = (data as ArrayLike<number | bigint>).length;
  for (let i = 0; i < n; i += 1) into[offset + i] = Number((data as ArrayLike<number | bigint>)[i]);
}

/**
 * One ONNX Runtime session in a worker thread: InferenceSession.run() blocks its thread for the
 * whole inference, so it must never run on the main thread that answers HTTP.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { DATATYPE_OF_ORT, ORT_TYPE_OF } from './ort-types.js';
import { runScan } from './scan-loop.js';
import { concatBatch, type NamedTensors, type TensorData } from './tensor.js';
import { type FromWorker, inOrder, type TensorInfo, type ToWorker, type WorkerInit, type WorkerRun, type WorkerScan } from './worker-protocol.js';

const init = workerData as WorkerInit;

// Linux nice values are per thread, and the threads ONNX Runtime starts from here inherit this one:
// inference yields the CPU to the thread that answers HTTP, so health checks and the queue's 429s
// stay fast when every core is busy with models.
try {
  setPriority(10);
} catch {
  // Not permitted (some containers): run at normal priority.
}
const port = parentPort!;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function createSession(): Promise<void> {
  const fallbacks: Array<{ provider: string; error: string }> = [];
  for (const [i, provider] of init.providers.entries()) {
    try {
      const session = await ort.InferenceSession.create(init.modelPath, {
        executionProviders: [provider],
        // A provider that may fail to load has a fallback: keep ORT's own error print quiet; Lathe logs it once.
        logSeverityLevel: i < init.providers.length - 1 ? 4 : 3,
        intraOpNumThreads: init.intraOpThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      post({ type: 'ready', provider, fallbacks, inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) });
      serve(session);
      return;
    } catch (err) {
      fallbacks.push({ provider, error: firstLine(err) });
    }
  }
  post({ type: 'load-failed', error: fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ') });
}

function serve(session: ort.InferenceSession): void {
  port.on('message', inOrder((message) => handle(session, message)));
}

/** When the message being handled was begun: a batch posted early waited in this thread's queue until then. */
let begun = 0n;

async function handle(session: ort.InferenceSession, message: ToWorker): Promise<void> {
  begun = process.hrtime.bigint();
  if (message.type === 'close') {
    await session.release();
    port.close();
    return;
  }
  try {
    if (message.type === 'scan') await scan(session, message);
    else if (message.type === 'run') await run(session, message);
    else post({ type: 'run-failed', id: message.id, error: 'a session worker cannot run a pipeline' });
  } catch (err) {
    post({ type: 'run-failed', id: message.id, error: firstLine(err) });
  }
}

async function run(session: ort.InferenceSession, message: WorkerRun): Promise<void> {
  const assembling = process.hrtime.bigint();
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, parts] of Object.entries(message.inputs)) {
    const axis = message.axes?.[name];
    const t = axis === null ? concatBatch(parts.slice(0, 1)) : concatBatch(parts, axis ?? 0);
    feeds[name] = new ort.Tensor(ORT_TYPE_OF[t.datatype] as 'float32', t.data as Float32Array, t.shape);
  }
  const started = process.hrtime.bigint();
  const inputNs = Number(started - assembling);
  const results = await session.run(feeds, message.outputs);
  const inferNs = Number(process.hrtime.bigint() - started);
  const outputs: NamedTensors = {};
  for (const name of message.outputs) {
    const r = results[name]!;
    const data = Array.isArray(r.data) ? [...(r.data as string[])] : ((r.data as Float32Array).slice() as TensorData);
    outputs[name] = { datatype: DATATYPE_OF_ORT[r.type]!, shape: [...r.dims], data };
    r.dispose();
  }
  const transfer = Object.values(outputs).flatMap((t) => (Array.isArray(t.data) ? [] : [t.data.buffer as ArrayBuffer]));
  post({ type: 'result', id: message.id, outputs, inputNs, inferNs, startedNs: begun }, transfer);
}

/** A whole recurrent pass in one message: one thread hop per recording, not one per window. */
async function scan(session: ort.InferenceSession, message: WorkerScan): Promise<void> {
  const started = process.hrtime.bigint();
  const { values, steps, perStep, inferNs } = await runScan(session, message.spec, message.signal, message.deadline);
  // Time around the runs (copying windows in, outputs out) is this scan's input time.
  const inputNs = Math.max(0, Number(process.hrtime.bigint() - started) - inferNs);
  const outputs: NamedTensors = { [message.spec.output]: { datatype: 'FP32', shape: [steps, perStep], data: values } };
  post({ type: 'result', id: message.id, outputs, inputNs, inferNs, startedNs: begun }, [values.buffer as ArrayBuffer]);
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape].map((d) => (typeof d === 'number' ? d : d || '?')) }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
}

await createSession();

/**
 * One ONNX Runtime session in a worker thread: InferenceSession.run() blocks its thread for the
 * whole inference, so it must never run on the main thread that answers HTTP.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { DATATYPE_OF_ORT, ORT_TYPE_OF } from './ort-types.js';
import { runScan, ScanDeadlineExceeded } from './scan-loop.js';
import { concatBatch, type NamedTensors, Scratch, type TensorData } from '../contracts/tensor.js';
import type { EmbedBatch, EmbedPartAnswer, GenerateCall, PlainValue, RunBatch, ScanBatch } from './work.js';
import {
  type EmbedExtension,
  type EmbedHandler,
  type GenerateExtension,
  type GenerateHandler,
  importExtension,
  type TensorSession,
} from './worker-extension.js';
import {
  type FromWorker,
  firstLine,
  inOrder,
  type TensorInfo,
  type ToWorker,
  type WorkerCancel,
  type WorkerInit,
  type WorkerRequest,
} from './worker-protocol.js';

type SessionInit = Exclude<WorkerInit, { kind: 'pipeline' }>;
const init: SessionInit = workerData;

// Linux nice values are per thread, and the threads ONNX Runtime starts from here inherit this one:
// inference yields the CPU to the thread that answers HTTP, so health checks and the queue's 429s
// stay fast when every core is busy with models. A decoder loop keeps the HTTP thread's priority:
// its steps are short and run back to back, the HTTP thread's work between them (the streamed
// tokens) is part of the same answer, and at nice 10 every wake of that thread (or of any other
// process) stalls a step's parallel section; the event loop still answers within 50 ms at 16
// streams (generation-event-loop.serial.test.ts).
try {
  if (init.kind !== 'session-generate') setPriority(10);
} catch {
  // Not permitted (some containers): run at normal priority.
}
const port = parentPort!;
/**
 * Events of generate calls wait here until the turn that emitted them ends, and leave in one
 * message: a decode step of 16 sequences posts once, not 16 times. Anything else posted flushes
 * them first, so a call's events always arrive before its answer.
 */
let events: Array<{ id: number; event: PlainValue }> = [];
const flushEvents = () => {
  if (events.length === 0) return;
  const message: FromWorker = { type: 'events', events };
  events = [];
  port.postMessage(message);
};
const emitEvent = (id: number, event: PlainValue) => {
  if (events.length === 0) queueMicrotask(flushEvents);
  events.push({ id, event });
};
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => {
  flushEvents();
  port.postMessage(message, transfer);
};

/**
 * The `embed` extension, loaded beside the session, not before it: the session serves raw tensors
 * even when the extension cannot load, and an `embed` request then fails with the extension's error.
 * Its module loads only in a worker that has one: in the others it would only make the heap
 * larger, and every full GC of it slower (a vision or audio model's worker collects several times
 * a second under load).
 */
let embedExtension: Promise<{ handler: EmbedHandler } | { failure: EmbedPartAnswer }> | undefined;

async function createSession(): Promise<void> {
  if (init.kind === 'session-embed') {
    const { module, config } = init.embed;
    embedExtension = importExtension<EmbedExtension>(module)
      .then((extension) => extension.load(config))
      .then(
        (handler) => ({ handler }),
        // Every request of a batch is then refused with the load error (503 MODEL_LOAD_FAILED).
        (err: unknown) => ({
          failure:
            err instanceof AppError
              ? { ok: false as const, code: err.code, message: err.message }
              : { ok: false as const, code: ErrorCode.ModelLoadFailed, message: firstLine(err) },
        }),
      );
  }
  const { providers, intraOpThreads } = init.session;
  let modelPath = init.session.modelPath;
  let generateExtension: GenerateExtension | undefined;
  if (init.kind === 'session-generate') {
    // The decoder loop is what this model is for: without it the model does not load.
    try {
      generateExtension = await importExtension<GenerateExtension>(init.generate.module);
      modelPath = (await generateExtension.graph?.(init.generate.config, modelPath)) ?? modelPath;
    } catch (err) {
      post({ type: 'load-failed', error: firstLine(err) });
      return;
    }
  }
  const fallbacks: Array<{ provider: string; error: string }> = [];
  const options = (provider: string, quiet: boolean): ort.InferenceSession.SessionOptions => ({
    executionProviders: [provider],
    // A provider that may fail to load has a fallback: keep ORT's own error print quiet; Lathe logs it once.
    logSeverityLevel: quiet ? 4 : 3,
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    ...(init.session.spinning === undefined
      ? {}
      : { extra: { session: { intra_op: { allow_spinning: init.session.spinning ? '1' : '0' } } } }),
  });
  for (const [i, provider] of providers.entries()) {
    try {
      const session = await ort.InferenceSession.create(modelPath, options(provider, i < providers.length - 1));
      const inputs = describe(session.inputMetadata);
      let generator: GenerateHandler | undefined;
      if (generateExtension && init.kind === 'session-generate') {
        try {
          const open = async (path: string) => {
            const other = await ort.InferenceSession.create(path, options(provider, false));
            siblings.push(other);
            return { ...tensorSession(other), inputs: describe(other.inputMetadata), outputs: describe(other.outputMetadata) };
          };
          generator = await generateExtension.load(
            init.generate.config,
            { ...tensorSession(session), inputs, outputs: describe(session.outputMetadata) },
            open,
          );
        } catch (err) {
          await releaseSiblings();
          await session.release();
          post({ type: 'load-failed', error: firstLine(err) });
          return;
        }
      }
      post({ type: 'ready', provider, fallbacks, inputs, outputs: describe(session.outputMetadata) });
      const inTurn = inOrder((message: Exclude<ToWorker, WorkerCancel>) => handle(session, message));
      port.on('message', (message: ToWorker) => {
        // A generate call lasts many steps and shares them with the others: it is not one of the
        // messages that run one at a time, and neither is the cancel that ends it.
        if (message.type === 'cancel') return generator?.cancel(message.id);
        if (message.type === 'work' && message.kind === 'generate') return void generate(generator, message);
        inTurn(message);
      });
      return;
    } catch (err) {
      fallbacks.push({ provider, error: firstLine(err) });
    }
  }
  post({ type: 'load-failed', error: fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ') });
}

/** Sessions a generate extension opened beside the worker's own (an encoder/decoder pair's other half). */
const siblings: ort.InferenceSession[] = [];

async function releaseSiblings(): Promise<void> {
  for (const other of siblings.splice(0)) await other.release();
}

async function handle(session: ort.InferenceSession, message: Exclude<ToWorker, WorkerCancel>): Promise<void> {
  const startedNs = process.hrtime.bigint();
  if (message.type === 'close') {
    await releaseSiblings();
    await session.release();
    port.close();
    return;
  }
  try {
    switch (message.kind) {
      case 'run': {
        const { answer, inputNs, inferNs, transfer } = await run(session, message.batch);
        return post({ type: 'done', kind: 'run', id: message.id, answer, timing: { startedNs, inputNs, inferNs } }, transfer);
      }
      case 'scan': {
        const { answer, inputNs, inferNs } = await scan(session, message.batch);
        const timing = { startedNs, inputNs, inferNs };
        return post({ type: 'done', kind: 'scan', id: message.id, answer, timing }, [answer.values.buffer as ArrayBuffer]);
      }
      case 'embed': {
        const { answer, inputNs, inferNs } = await embed(session, message.batch, startedNs);
        const transfer = answer.flatMap((a) => (a.ok ? [a.vectors.buffer as ArrayBuffer] : []));
        return post({ type: 'done', kind: 'embed', id: message.id, answer, timing: { startedNs, inputNs, inferNs } }, transfer);
      }
      case 'pipeline':
      case 'generate':
        return post({
          type: 'failed',
          id: message.id,
          code: ErrorCode.Internal,
          message: `this session worker cannot take "${message.kind}" work`,
        });
    }
  } catch (err) {
    const code = err instanceof ScanDeadlineExceeded ? ErrorCode.DeadlineExceeded : ErrorCode.ValidationFailed;
    post({ type: 'failed', id: message.id, code, message: firstLine(err) });
  }
}

/** One generate call, its events posted as they come; an AppError keeps its code and headers (Retry-After). */
async function generate(generator: GenerateHandler | undefined, message: Extract<WorkerRequest, { kind: 'generate' }>): Promise<void> {
  const { id } = message;
  if (!generator) {
    return post({ type: 'failed', id, code: ErrorCode.Internal, message: 'this session worker has no generate extension' });
  }
  const startedNs = process.hrtime.bigint();
  try {
    const output = await generator.generate(id, (message.batch as GenerateCall).input, (event) => emitEvent(id, event));
    const timing = { startedNs, inputNs: 0, inferNs: Number(process.hrtime.bigint() - startedNs) };
    post({ type: 'done', kind: 'generate', id, answer: { output }, timing });
  } catch (err) {
    if (err instanceof AppError) {
      const headers = err.headers ? { ...err.headers } : undefined;
      return post({ type: 'failed', id, code: err.code, message: err.message, ...(headers ? { headers } : {}) });
    }
    post({ type: 'failed', id, code: ErrorCode.Internal, message: firstLine(err) });
  }
}

function ortFeeds(inputs: NamedTensors): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs))
    feeds[name] = new ort.Tensor(ORT_TYPE_OF[t.datatype] as 'float32', t.data as Float32Array, t.shape);
  return feeds;
}

/**
 * Batched inputs are assembled in reused buffers: this worker runs one message at a time, and
 * nothing keeps a batch's inputs once its run has ended.
 */
const scratch = new Scratch();

async function run(session: ort.InferenceSession, batch: RunBatch) {
  const assembling = process.hrtime.bigint();
  const inputs: NamedTensors = {};
  for (const [name, parts] of Object.entries(batch.inputs)) {
    const axis = batch.axes?.[name];
    inputs[name] =
      axis === null ? concatBatch(parts.slice(0, 1), 0, scratch.allocator(name)) : concatBatch(parts, axis ?? 0, scratch.allocator(name));
  }
  const feeds = ortFeeds(inputs);
  const started = process.hrtime.bigint();
  const inputNs = Number(started - assembling);
  const results = await session.run(feeds, batch.outputs);
  const inferNs = Number(process.hrtime.bigint() - started);
  const outputs: NamedTensors = {};
  for (const name of batch.outputs) {
    const r = results[name]!;
    const data = Array.isArray(r.data) ? [...(r.data as string[])] : ((r.data as Float32Array).slice() as TensorData);
    outputs[name] = { datatype: DATATYPE_OF_ORT[r.type]!, shape: [...r.dims], data };
    r.dispose();
  }
  const transfer = Object.values(outputs).flatMap((t) => (Array.isArray(t.data) ? [] : [t.data.buffer as ArrayBuffer]));
  return { answer: { outputs }, inputNs, inferNs, transfer };
}

/** A whole recurrent pass in one message: one thread hop per recording, not one per window. */
async function scan(session: ort.InferenceSession, batch: ScanBatch) {
  const started = process.hrtime.bigint();
  const { values, steps, perStep, inferNs } = await runScan(session, batch.spec, batch.signal, batch.deadline);
  // Time around the runs (copying windows in, outputs out) is this scan's input time.
  const inputNs = Math.max(0, Number(process.hrtime.bigint() - started) - inferNs);
  return { answer: { values, steps, perStep }, inputNs, inferNs };
}

/** The session as the extension sees it: tensors in, tensors out, read before the next run. */
function tensorSession(session: ort.InferenceSession): TensorSession {
  return {
    async run(inputs, outputs) {
      const results = await session.run(ortFeeds(inputs), outputs);
      const named: NamedTensors = {};
      for (const name of outputs) {
        const r = results[name]!;
        named[name] = { datatype: DATATYPE_OF_ORT[r.type]!, shape: [...r.dims], data: r.data as TensorData };
      }
      return named;
    },
  };
}

async function embed(session: ort.InferenceSession, batch: EmbedBatch, startedNs: bigint) {
  if (!embedExtension) throw new Error('this session worker has no embed extension');
  const loaded = await embedExtension;
  if ('failure' in loaded) return { answer: batch.parts.map(() => loaded.failure), inputNs: 0, inferNs: 0 };
  const { answers, inferNs } = await loaded.handler.embed(batch.parts, tensorSession(session));
  const inputNs = Math.max(0, Number(process.hrtime.bigint() - startedNs) - inferNs);
  return { answer: answers, inputNs, inferNs };
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape].map((d) => (typeof d === 'number' ? d : d || '?')) }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

await createSession();

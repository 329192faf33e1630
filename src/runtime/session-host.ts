/**
 * One ONNX Runtime session and the extension beside it, answering the worker protocol: in a
 * session worker's thread (session.worker.ts), or, for a model whose manifest opts in and whose
 * calls stay within its budget, on the main thread (`inline` in ModelRunner).
 */
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
  type WorkTiming,
} from './worker-protocol.js';

export type SessionInit = Exclude<WorkerInit, { kind: 'pipeline' }>;

/** The host's end of a worker's channel: a worker thread's parentPort, or an in-thread stand-in. */
export interface HostPort {
  postMessage(message: FromWorker, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (message: ToWorker) => void): unknown;
  close(): void;
}

/** A session run as the host makes it; see hostSession's `blocking`. */
type RunSession = (
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  outputs: string[],
) => Promise<ort.InferenceSession.ReturnType>;

/**
 * Loads the session (and its extension), posts `ready` or `load-failed`, then answers the
 * messages `port` receives until `close`. Every piece of state is this call's own: two hosts on
 * one thread share nothing. `blocking`: each answer's timing says how long the message held the
 * thread (`blockedNs`), for a host on the main thread.
 */
export async function hostSession(init: SessionInit, port: HostPort, options: { blocking?: boolean } = {}): Promise<void> {
  /**
   * onnxruntime-node starts a run in a setImmediate, so the event loop turns between the call and
   * the run: on the main thread it answers other sockets meanwhile. What a message's runs waited
   * for it is left out of the time the message held the thread. An immediate queued just before
   * the call runs just before the run's.
   */
  let waitedNs = 0n;
  const runSession: RunSession = options.blocking
    ? async (session, feeds, outputs) => {
        const called = process.hrtime.bigint();
        let began = called;
        setImmediate(() => (began = process.hrtime.bigint()));
        const results = await session.run(feeds, outputs);
        waitedNs += began - called;
        return results;
      }
    : (session, feeds, outputs) => session.run(feeds, outputs);

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
              return {
                ...tensorSession(other, runSession),
                inputs: describe(other.inputMetadata),
                outputs: describe(other.outputMetadata),
              };
            };
            generator = await generateExtension.load(
              init.generate.config,
              { ...tensorSession(session, runSession), inputs, outputs: describe(session.outputMetadata) },
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
    waitedNs = 0n;
    /** The message's timing; with `blocking`, how long it held the thread until now. */
    const timed = (inputNs: number, inferNs: number): WorkTiming =>
      options.blocking
        ? { startedNs, inputNs, inferNs, blockedNs: Number(process.hrtime.bigint() - startedNs - waitedNs) }
        : { startedNs, inputNs, inferNs };
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
          return post({ type: 'done', kind: 'run', id: message.id, answer, timing: timed(inputNs, inferNs) }, transfer);
        }
        case 'scan': {
          const { answer, inputNs, inferNs } = await scan(session, message.batch);
          const timing = timed(inputNs, inferNs);
          return post({ type: 'done', kind: 'scan', id: message.id, answer, timing }, [answer.values.buffer as ArrayBuffer]);
        }
        case 'embed': {
          const { answer, inputNs, inferNs } = await embed(session, message.batch, startedNs);
          const transfer = answer.flatMap((a) => (a.ok ? [a.vectors.buffer as ArrayBuffer] : []));
          return post({ type: 'done', kind: 'embed', id: message.id, answer, timing: timed(inputNs, inferNs) }, transfer);
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
    const results = await runSession(session, feeds, batch.outputs);
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

  async function embed(session: ort.InferenceSession, batch: EmbedBatch, startedNs: bigint) {
    if (!embedExtension) throw new Error('this session worker has no embed extension');
    const loaded = await embedExtension;
    if ('failure' in loaded) return { answer: batch.parts.map(() => loaded.failure), inputNs: 0, inferNs: 0 };
    const { answers, inferNs } = await loaded.handler.embed(batch.parts, tensorSession(session, runSession));
    const inputNs = Math.max(0, Number(process.hrtime.bigint() - startedNs) - inferNs);
    return { answer: answers, inputNs, inferNs };
  }

  await createSession();
}

function ortFeeds(inputs: NamedTensors): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs))
    feeds[name] = new ort.Tensor(ORT_TYPE_OF[t.datatype] as 'float32', t.data as Float32Array, t.shape);
  return feeds;
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
function tensorSession(session: ort.InferenceSession, runSession: RunSession): TensorSession {
  return {
    async run(inputs, outputs) {
      const results = await runSession(session, ortFeeds(inputs), outputs);
      const named: NamedTensors = {};
      for (const name of outputs) {
        const r = results[name]!;
        named[name] = { datatype: DATATYPE_OF_ORT[r.type]!, shape: [...r.dims], data: r.data as TensorData };
      }
      return named;
    },
  };
}

function describe(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape].map((d) => (typeof d === 'number' ? d : d || '?')) }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

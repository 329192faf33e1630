/**
 * One ONNX Runtime session in a worker thread: InferenceSession.run() blocks its thread for the
 * whole inference, so it must never run on the main thread that answers HTTP.
 */
import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { PreTrainedTokenizer } from './hf-tokenizer.js';
import { DATATYPE_OF_ORT, ORT_TYPE_OF } from './ort-types.js';
import { runScan } from './scan-loop.js';
import { concatBatch, type NamedTensors, Scratch, type Tensor, type TensorData } from '../contracts/tensor.js';
import {
  type EmbedAnswer,
  type FromWorker,
  inOrder,
  type TensorInfo,
  type TextInit,
  type ToWorker,
  type WorkerEmbed,
  type WorkerInit,
  type WorkerRun,
  type WorkerScan,
} from './worker-protocol.js';

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

/** A text model's tokenizer and length limit, when this worker serves one whole. */
interface TextTokenizer {
  spec: TextInit;
  features: typeof import('./text-features.js');
  tokenizer: PreTrainedTokenizer;
  maxLength: number;
  vocabularySize: number;
}
/**
 * Loaded beside the session, not before it: the session serves raw tensors (OIP) even when the
 * tokenizer cannot load, and a text request then fails with the tokenizer's error.
 */
let text: Promise<TextTokenizer> | undefined;

/**
 * Transformers.js and the text helpers load only in a worker that serves a text model. In the
 * others they would only make the heap larger, and every full GC of it slower: a vision or audio
 * model's worker collects several times a second under load.
 */
async function loadText(spec: TextInit): Promise<TextTokenizer> {
  const [{ configureTransformers, loadTokenizer }, features] = await Promise.all([
    import('./hf-tokenizer.js'),
    import('./text-features.js'),
  ]);
  configureTransformers(spec.cacheDir);
  const [tokenizer, configText] = await Promise.all([loadTokenizer(spec.folder), readFile(join(spec.folder, 'config.json'), 'utf8')]);
  const config = JSON.parse(configText) as { max_position_embeddings?: unknown };
  const positions = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : undefined;
  return {
    spec,
    features,
    tokenizer,
    maxLength: features.maxLengthOf(spec, tokenizer, positions),
    vocabularySize: tokenizer.get_vocab().size,
  };
}

async function createSession(): Promise<void> {
  if (init.text) {
    const { model } = init.text;
    text = loadText(init.text).catch((err: unknown) => {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${model}": tokenizer or config.json could not be read: ${firstLine(err)}`);
    });
    text.catch(() => undefined);
  }
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
  port.on(
    'message',
    inOrder((message) => handle(session, message)),
  );
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
    else if (message.type === 'embed') await embed(session, message);
    else post({ type: 'run-failed', id: message.id, error: 'a session worker cannot run a pipeline' });
  } catch (err) {
    post({ type: 'run-failed', id: message.id, error: firstLine(err) });
  }
}

function ortFeeds(inputs: NamedTensors): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs))
    feeds[name] = new ort.Tensor(ORT_TYPE_OF[t.datatype] as 'float32', t.data as Float32Array, t.shape);
  return feeds;
}

/**
 * Several requests' texts through a text model: each part tokenized (a part with a text over the
 * model's limit is refused alone), all rows run in groups of similar length, each row pooled and
 * normalised, each part's vectors returned in one array.
 */
async function embed(session: ort.InferenceSession, message: WorkerEmbed): Promise<void> {
  if (!text) throw new Error('this session worker does not serve a text model');
  const loaded = await text.catch((err: AppError) => err);
  if (loaded instanceof AppError) {
    // Every request in the batch is refused with the tokenizer's error (503 MODEL_LOAD_FAILED).
    const value: EmbedAnswer[] = message.parts.map(() => ({ code: loaded.code, message: loaded.message }));
    post({ type: 'result', id: message.id, outputs: {}, value, inputNs: 0, inferNs: 0, startedNs: begun });
    return;
  }
  const { spec, features, tokenizer, maxLength, vocabularySize } = loaded;
  const { checkTokenIds, encodeTexts, lengthGroups, padIds, poolRows } = features;
  const assembling = process.hrtime.bigint();
  const answers: Array<EmbedAnswer | undefined> = [];
  const rows: Array<{ part: number; ids: number[] }> = [];
  message.parts.forEach((part, p) => {
    try {
      checkTokenIds(part.inputs, vocabularySize, spec.model, part.offset);
      const limits = { model: spec.model, maxLength, truncate: part.truncate, offset: part.offset };
      for (const ids of encodeTexts(tokenizer, part.inputs, limits)) rows.push({ part: p, ids });
      answers.push(undefined);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      answers.push({ code: err.code, message: err.message });
    }
  });
  const pooled: Float32Array[] = [];
  let width = 0;
  let inferNs = 0;
  for (const group of lengthGroups(
    rows.map((r) => r.ids.length),
    spec.maxBatchSize,
  )) {
    const batch = padIds(
      group.map((i) => rows[i]!.ids),
      spec.inputs,
      tokenizer.pad_token_id ?? 0,
      maxLength,
      spec.model,
    );
    const started = process.hrtime.bigint();
    const results = await session.run(ortFeeds(batch.inputs), [spec.output]);
    inferNs += Number(process.hrtime.bigint() - started);
    const r = results[spec.output]!;
    const output: Tensor = { datatype: 'FP32', shape: [...r.dims], data: r.data as Float32Array };
    const vectors = poolRows(output, batch.lengths, spec.pooling, spec.normalize);
    r.dispose();
    width = output.shape.at(-1)!;
    group.forEach((row, k) => (pooled[row] = vectors.subarray(k * width, (k + 1) * width)));
  }
  // Each part's rows, in its own order, in one array to hand over.
  const counts = message.parts.map(() => 0);
  const tokens = message.parts.map(() => 0);
  for (const row of rows) {
    counts[row.part]! += 1;
    tokens[row.part]! += row.ids.length;
  }
  const filled = message.parts.map((_, p) => (answers[p] ? undefined : new Float32Array(counts[p]! * width)));
  const next = message.parts.map(() => 0);
  rows.forEach((row, i) => filled[row.part]!.set(pooled[i]!, (next[row.part]! += 1) * width - width));
  const value: EmbedAnswer[] = message.parts.map((_, p) => answers[p] ?? { vectors: filled[p]!, width, tokens: tokens[p]! });
  const inputNs = Math.max(0, Number(process.hrtime.bigint() - assembling) - inferNs);
  post(
    { type: 'result', id: message.id, outputs: {}, value, inputNs, inferNs, startedNs: begun },
    filled.flatMap((f) => (f ? [f.buffer as ArrayBuffer] : [])),
  );
}

/**
 * Batched inputs are assembled in reused buffers: this worker runs one message at a time, and
 * nothing keeps a batch's inputs once its run has ended.
 */
const scratch = new Scratch();

async function run(session: ort.InferenceSession, message: WorkerRun): Promise<void> {
  const assembling = process.hrtime.bigint();
  const inputs: NamedTensors = {};
  for (const [name, parts] of Object.entries(message.inputs)) {
    const axis = message.axes?.[name];
    inputs[name] =
      axis === null ? concatBatch(parts.slice(0, 1), 0, scratch.allocator(name)) : concatBatch(parts, axis ?? 0, scratch.allocator(name));
  }
  const feeds = ortFeeds(inputs);
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

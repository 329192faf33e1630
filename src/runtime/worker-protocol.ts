import type { ScanSpec } from '../contracts/scan-spec.js';
import type { NamedTensors, Tensor } from '../contracts/tensor.js';

/** Messages between the scheduler (main thread) and a session worker. */
export interface WorkerInit {
  modelPath: string;
  providers: string[];
  intraOpThreads: number;
  /** Set for a Transformers.js pipeline worker instead of a session worker. */
  pipeline?: PipelineInit;
  /** Set when the session is a text model the worker serves whole (one vector per text): it tokenizes and pools too (`embed` messages). */
  text?: TextInit;
}

export interface TextInit {
  /** The model's name, for error messages. */
  model: string;
  /** The Hugging Face-layout folder (tokenizer.json, config.json). */
  folder: string;
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: string;
  /** The session's inputs to fill (input_ids, attention_mask, token_type_ids). */
  inputs: string[];
  output: string;
  pooling: 'mean' | 'cls' | 'none';
  normalize: boolean;
  /** The manifest's maxLength, when it sets one. */
  maxLength?: number;
  maxBatchSize: number;
}

/** One request's texts (or token arrays) in an `embed` message. */
export interface EmbedPart {
  inputs: Array<string | number[]>;
  truncate: boolean;
  /** Index of the first input in its request, so messages name the request's input. */
  offset: number;
}

/** Per part: rows × width values and the tokens read, or why the part was refused (an ErrorCode and message). */
export type EmbedAnswer = { vectors: Float32Array; width: number; tokens: number } | { code: string; message: string };

export interface PipelineInit {
  task: string;
  /** The Hugging Face-layout folder. */
  folder: string;
  /** Transformers.js dtype, e.g. fp32 or q8 (which onnx/*.onnx files it loads). */
  dtype: string;
  /** Lathe's data dir; Transformers.js keeps its cache under it. */
  cacheDir: string;
}

export interface TensorInfo {
  name: string;
  /** ONNX Runtime's element type, e.g. "float32". */
  type: string;
  /** Dimensions; a string or -1 for a dynamic one. */
  shape: Array<number | string>;
}

export type WorkerReady = {
  type: 'ready';
  provider: string;
  /** Providers tried before `provider` and why each failed to load. */
  fallbacks: Array<{ provider: string; error: string }>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
};
export type WorkerLoadFailed = { type: 'load-failed'; error: string };
export type WorkerResult = {
  type: 'result';
  id: number;
  outputs: NamedTensors;
  /** process.hrtime.bigint() when the worker began this message (the clock is the process's, shared by its threads). */
  startedNs?: bigint;
  /** What a pipeline answered (structured-cloned), for pipeline workers. */
  value?: unknown;
  inputNs: number;
  inferNs: number;
};
export type WorkerRunFailed = { type: 'run-failed'; id: number; error: string };
export type FromWorker = WorkerReady | WorkerLoadFailed | WorkerResult | WorkerRunFailed;

/**
 * Each input as the parts the batch is made of, one per request; the worker concatenates them
 * along the input's batch axis (absent: 0; null: no batch axis, the parts are equal, the first is used).
 */
export type WorkerRun = {
  type: 'run';
  id: number;
  inputs: Record<string, Tensor[]>;
  outputs: string[];
  axes?: Record<string, number | null>;
};
/**
 * Runs the model over `signal` window by window inside the worker (see ScanSpec); answered by a
 * `result` whose one output is the collected values, shaped [steps, values per step].
 * `deadline` is a Date.now() value: past it the worker stops between windows.
 */
export type WorkerScan = { type: 'scan'; id: number; spec: ScanSpec; signal: Float32Array; deadline: number };
/**
 * Tokenizes, runs and pools the texts of several requests as few padded batches (a text worker
 * only); answered by a `result` whose `value` is one EmbedAnswer per part.
 */
export type WorkerEmbed = { type: 'embed'; id: number; parts: EmbedPart[] };
/** Runs a pipeline worker's pipeline on one input with its call options. */
export type WorkerPipeline = { type: 'pipeline'; id: number; input: Float32Array; options: Record<string, unknown> };
export type WorkerClose = { type: 'close' };
export type ToWorker = WorkerRun | WorkerScan | WorkerEmbed | WorkerPipeline | WorkerClose;

/**
 * A worker's message listener that handles one message at a time, in arrival order: the main
 * thread may post the next batch while one runs, and each run's time must be its own.
 */
export function inOrder(handle: (message: ToWorker) => Promise<void>): (message: ToWorker) => void {
  let previous: Promise<void> = Promise.resolve();
  return (message) => {
    previous = previous.then(() => handle(message));
  };
}

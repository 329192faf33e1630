import type { ErrorCode } from '../common/errors/error-code.js';
import type { ScanSpec } from '../contracts/scan-spec.js';
import type { NamedTensors, Tensor } from '../contracts/tensor.js';

/**
 * The kinds of work a model's workers do, each with its own request (one caller's share), batch
 * (what one worker call carries), answer (the worker's, for the batch) and result (one caller's
 * share of the answer). One entry here, one handler in the worker and
 * one case in ModelRunner.execute make a kind; nothing else switches on it.
 *
 * `generate` streams: between its request and its answer the worker sends `event` messages
 * (tokens as they are decoded), and the caller may cancel it; it is never queued here, because the
 * extension's decoder loop batches its sequences itself, step by step.
 */
export interface WorkKinds {
  /** One session run over named tensors; requests with equal keys are concatenated along each tensor's batch axis. */
  run: { request: RunRequest; batch: RunBatch; answer: RunAnswer; result: RunAnswer };
  /** A recurrent model over a whole signal, window by window, in one worker call (see ScanSpec). Runs alone. */
  scan: { request: ScanRequest; batch: ScanBatch; answer: ScanAnswer; result: ScanAnswer };
  /** One call of a model program a worker extension loaded (several sessions and a loop of its own). Runs alone. */
  pipeline: { request: PipelineRequest; batch: PipelineRequest; answer: PipelineAnswer; result: PipelineAnswer };
  /** Inputs to one vector each, encoded, run and pooled by the worker's extension; batched with other requests' inputs. */
  embed: { request: EmbedPart; batch: EmbedBatch; answer: EmbedPartAnswer[]; result: EmbedVectors };
  /** One streaming call of the worker's `generate` extension (a decoder loop); runs beside the others on its worker. */
  generate: { request: GenerateCall; batch: GenerateCall; answer: GenerateAnswer; result: GenerateAnswer };
}
export type WorkKind = keyof WorkKinds;

/** A request of one kind, tagged. */
export type Work<K extends WorkKind = WorkKind> = { [P in K]: { kind: P; request: WorkKinds[P]['request'] } }[K];

export interface RunRequest {
  inputs: NamedTensors;
  outputs: string[];
  /** Rows along the batch axis, counted towards maxBatchSize. */
  rows: number;
}
/**
 * Each input as the parts the batch is made of, one per request; the worker concatenates them
 * along the input's batch axis (absent: 0; null: no batch axis, the parts are equal, the first is used).
 */
export interface RunBatch {
  inputs: Record<string, Tensor[]>;
  outputs: string[];
  axes?: Record<string, number | null>;
}
export interface RunAnswer {
  outputs: NamedTensors;
}

export interface ScanRequest {
  spec: ScanSpec;
  signal: Float32Array;
  /** Hand the signal's buffer to the worker instead of copying it (the caller's array is empty afterwards). */
  transfer: boolean;
}
/** `deadline` is a Date.now() value: past it the worker stops between windows. */
export interface ScanBatch {
  spec: ScanSpec;
  signal: Float32Array;
  deadline: number;
}
export interface ScanAnswer {
  /** spec.output of every window, concatenated: steps × perStep values. */
  values: Float32Array;
  steps: number;
  perStep: number;
}

/** Values a worker call takes and gives: what structured clone carries, less functions and classes. */
export type PlainValue = string | number | boolean | null | Float32Array | PlainValue[] | { [key: string]: PlainValue | undefined };

export interface PipelineRequest {
  /** Audio samples (transcription) or text (speech synthesis): what the extension's program takes. */
  input: Float32Array | string;
  options: Record<string, PlainValue | undefined>;
}
export interface PipelineAnswer {
  /** What the extension's program answered; its caller parses it against the extension's own schema. */
  output: PlainValue;
}

/** The extension's own request (it parses it); events and answer are its own shapes too. */
export interface GenerateCall {
  input: PlainValue;
}
export interface GenerateAnswer {
  output: PlainValue;
}

/** One request's inputs (texts or token arrays) in an `embed` batch. */
export interface EmbedPart {
  inputs: Array<string | number[]>;
  truncate: boolean;
  /** Index of the first input in its request, so messages name the request's input. */
  offset: number;
  /** Which end `truncate` cuts (TEI's truncation_direction); default the right. */
  truncateFrom?: 'left' | 'right';
  /** L2-normalise the pooled vectors; default what the model's manifest says. */
  normalize?: boolean;
}
export interface EmbedBatch {
  parts: EmbedPart[];
}
export interface EmbedVectors {
  /** Rows × width values, in the part's input order. */
  vectors: Float32Array;
  width: number;
  /** Tokens read, after truncation. */
  tokens: number;
}
/** Per part: rows × width values and the tokens read, or why the extension refused that part alone. */
export type EmbedPartAnswer = ({ ok: true } & EmbedVectors) | { ok: false; code: ErrorCode; message: string };

/** Where a request's time went: waiting for a worker, and in the model. */
export interface Timings {
  queueMs: number;
  inferenceMs: number;
}
/** What a caller gets for a request of kind K. */
export type ResultOf<K extends WorkKind> = WorkKinds[K]['result'] & Timings;

/**
 * What domain code implements to run inside a model's worker. A domain module exports
 * `extension` (one of the interfaces below); the worker imports it by the URL its WorkerInit
 * names, so the runtime never imports domain code and the domain's heavy libraries load only in
 * the workers that use them.
 */
import type { NamedTensors } from '../contracts/tensor.js';
import type { EmbedPart, EmbedPartAnswer, PipelineRequest, PlainValue } from './work.js';
import type { TensorInfo } from './worker-protocol.js';

/** The worker's session, as tensors in and out. */
export interface TensorSession {
  run(inputs: NamedTensors, outputs: string[]): Promise<NamedTensors>;
}

/** Serves `embed` beside a session the worker owns. */
export interface EmbedExtension {
  /**
   * Loads what the extension needs (its own files and state), beside the session: a failure fails the
   * `embed` requests only (with the AppError thrown here), and the session still serves `run`.
   */
  load(config: unknown): Promise<EmbedHandler>;
}
export interface EmbedHandler {
  /** One answer per part; a part refused alone gets `ok: false` with its ErrorCode. Throwing fails the whole batch. */
  embed(parts: EmbedPart[], session: TensorSession): Promise<{ answers: EmbedPartAnswer[]; inferNs: number }>;
}

/** Serves `pipeline`: a model program the extension loads and runs itself. */
export interface PipelineExtension {
  /** Loads the program on one execution provider; throws when that provider cannot serve it. */
  load(config: unknown, options: { provider: string; intraOpThreads: number }): Promise<PipelineHandler>;
}
export interface PipelineHandler {
  call(request: PipelineRequest): Promise<PlainValue>;
  dispose(): Promise<void>;
}

/** A session the worker opened, with its signature. */
export type DescribedSession = TensorSession & { inputs: TensorInfo[]; outputs: TensorInfo[] };

/** Serves `generate`: a decoder loop over the worker's session that streams what it decodes. */
export interface GenerateExtension {
  /**
   * The model file the worker's session opens, when it is not the manifest's: a copy of the graph
   * rewritten for the loop (made once and cached under the extension's own directory).
   */
  graph?(config: unknown, modelPath: string): Promise<string>;
  /**
   * Loads what the loop needs beside the session (tokenizer, config); a failure fails the model's load.
   * `open` opens another ONNX file of the same model (an encoder/decoder pair) with the worker's
   * provider and thread options; the worker releases it with its own session.
   */
  load(config: unknown, session: DescribedSession, open: (modelPath: string) => Promise<DescribedSession>): Promise<GenerateHandler>;
}
export interface GenerateHandler {
  /**
   * Runs one call to its end, reporting events as it goes; calls run concurrently (the loop
   * batches them). Throwing an AppError fails the call with its code and headers.
   */
  generate(id: number, input: PlainValue, emit: (event: PlainValue) => void): Promise<PlainValue>;
  /** Ends call `id` before the loop's next step; its generate() then rejects. */
  cancel(id: number): void;
}

/** The `extension` export of the module at `url`, checked to have a load(). */
export async function importExtension<T extends EmbedExtension | PipelineExtension | GenerateExtension>(url: string): Promise<T> {
  const module: { extension?: T } = await import(url);
  if (typeof module.extension?.load !== 'function') throw new Error(`${url} exports no worker extension`);
  return module.extension;
}

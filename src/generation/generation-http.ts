import type { FastifyReply } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { type ErrorBody, errorObject } from '../common/errors/all-exceptions.filter.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { EventStream } from './event-stream.js';
import type { Generation } from './generation.service.js';
import type { GenerationSettings } from './openai-schemas.js';
import type { GenerateEvent, GenerateRequest, GenerateResult } from './text-generator.js';

type Delta = Extract<GenerateEvent, { type: 'delta' }>;

/** What the worker is asked for one prompt of a parsed OpenAI request. */
export function generateRequest(prompt: GenerateRequest['prompt'], settings: GenerationSettings): GenerateRequest {
  const { logitBias, ...sampling } = settings.sampling;
  return {
    prompt,
    n: settings.n,
    ...(settings.maxTokens !== undefined ? { maxTokens: settings.maxTokens } : {}),
    sampling: { ...sampling, ...(logitBias ? { logitBias: [...logitBias] } : {}) },
    unset: settings.unset,
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
    stop: settings.stop,
    stopTokenIds: settings.stopTokenIds,
    ignoreEos: settings.ignoreEos,
    ...(settings.truncatePromptTokens !== undefined ? { truncatePromptTokens: settings.truncatePromptTokens } : {}),
  };
}

/** One prompt's run; its choices are numbered from `offset` in the answer. */
export interface Launch {
  offset: number;
  start(onEvent: (event: GenerateEvent) => void): Generation;
}

/** How a route writes its answer: whole (collected deltas), or as a stream of chunk objects. */
export interface StreamFormat {
  opening(): unknown[];
  chunks(delta: Delta, index: number): unknown[];
  closing(results: GenerateResult[]): unknown[];
  /** The event that ends the stream ('[DONE]' for OpenAI), if any. */
  done?: string;
  /** What an error after the first byte becomes. */
  error(err: AppError): unknown;
}

/**
 * An error as the stream reports it, once the status line has gone: the `error` object of the
 * project's error body (OpenAI's `type` and `param` beside the code), as OpenAI streams it.
 */
export function errorEvent(err: AppError): { error: ErrorBody['error'] } {
  return { error: errorObject(err.code, err.message, err.details) };
}

function appError(err: unknown): AppError {
  return err instanceof AppError ? err : new AppError(ErrorCode.Internal, err instanceof Error ? err.message : String(err));
}

/**
 * Runs every prompt of a request and collects their deltas; the first failure cancels the others
 * and is thrown (the route answers it with its status).
 */
export async function collected(
  abort: AbortController,
  launches: Launch[],
  onDelta: (delta: Delta, index: number) => void,
): Promise<GenerateResult[]> {
  const runs = launches.map(({ offset, start }) => start((e) => e.type === 'delta' && onDelta(e, offset + e.choice)));
  try {
    return await Promise.all(runs.map((r) => r.done));
  } catch (err) {
    abort.abort();
    await Promise.allSettled(runs.map((r) => r.done));
    throw err;
  }
}

/**
 * Runs every prompt of a request and streams their chunks as Server-Sent Events. The status line
 * waits until the worker has accepted every prompt, so a refused request (context length, 429)
 * still gets its HTTP status; later failures end the stream with an error event.
 */
export async function streamed(reply: FastifyReply, abort: AbortController, launches: Launch[], format: StreamFormat): Promise<void> {
  // Deltas that come before the stream is opened wait here (the worker may send them right after accepting).
  const out: { stream?: EventStream } = {};
  const early: Array<[Delta, number]> = [];
  const write = (delta: Delta, index: number) => {
    if (!out.stream) early.push([delta, index]);
    else for (const chunk of format.chunks(delta, index)) out.stream.data(chunk);
  };
  const runs = launches.map(({ offset, start }) => start((e) => e.type === 'delta' && write(e, offset + e.choice)));
  try {
    await Promise.all(runs.map((r) => r.accepted));
  } catch (err) {
    abort.abort();
    await Promise.allSettled(runs.map((r) => r.done));
    throw err;
  }
  const stream = (out.stream = new EventStream(reply));
  for (const chunk of format.opening()) stream.data(chunk);
  for (const [delta, index] of early.splice(0)) write(delta, index);
  try {
    const results = await Promise.all(runs.map((r) => r.done));
    for (const chunk of format.closing(results)) stream.data(chunk);
    if (format.done) stream.data(format.done);
  } catch (err) {
    abort.abort();
    await Promise.allSettled(runs.map((r) => r.done));
    if (!abort.signal.aborted || !reply.raw.destroyed) stream.data(format.error(appError(err)));
  } finally {
    stream.end();
  }
}

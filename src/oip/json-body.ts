/**
 * An Open Inference Protocol JSON body parsed off the HTTP thread. The worker parses the bytes the
 * way the inline path does (strict UTF-8, Fastify's secure-json-parse) and also decodes every
 * input's `data` into a typed array: handing the parsed 150,000-number array back would cost the
 * HTTP thread a structured clone as dear as the parse itself, a typed array's buffer moves for free.
 */
import { createRequire } from 'node:module';
import { AppError } from '../common/errors/app-error.js';
import type { Tensor } from '../contracts/tensor.js';
import { decodeJsonTensor } from './tensor-codec.js';

/** Fastify's own copy, so both paths refuse exactly the same `__proto__` and `constructor` keys. */
const secureJsonParse = createRequire(import.meta.resolve('fastify'))('secure-json-parse') as {
  parse(text: string, reviver: null, options: { protoAction: 'error'; constructorAction: 'error' }): unknown;
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** One input's `data`, decoded in the worker, or the message decoding it failed with. */
export type DecodedData = { tensor: Tensor } | { error: string };

export type WorkerReply =
  { kind: 'parsed'; value: unknown; decoded: Array<DecodedData | null> } | { kind: 'invalid-utf8' } | { kind: 'malformed' };

/**
 * A parsed infer body whose inputs' `data` were decoded by a worker: `decoded[i]` belongs to
 * `value.inputs[i]`, whose `data` is left as null (present, so "has neither data" still holds).
 */
export class PreparsedInferBody {
  constructor(
    readonly value: unknown,
    readonly decoded: ReadonlyArray<DecodedData | null>,
  ) {}
}

/** Runs in the worker. Pure apart from the parse: unit-tested on the calling thread. */
export function parseInferBody(bytes: Uint8Array): WorkerReply {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { kind: 'invalid-utf8' };
  }
  let value: unknown;
  try {
    value = secureJsonParse.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    return { kind: 'malformed' };
  }
  const inputs = (value as { inputs?: unknown } | null)?.inputs;
  if (typeof value !== 'object' || Array.isArray(value) || !Array.isArray(inputs)) return { kind: 'parsed', value, decoded: [] };
  return { kind: 'parsed', value, decoded: inputs.map(decodeInput) };
}

/** Only inputs the inline path would decode from JSON; anything else it refuses before, in its own words. */
function decodeInput(input: unknown): DecodedData | null {
  if (typeof input !== 'object' || input === null) return null;
  const raw = input as { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown };
  if (typeof raw.name !== 'string' || !Array.isArray(raw.data)) return null;
  let decoded: DecodedData;
  try {
    decoded = { tensor: decodeJsonTensor(`input "${raw.name}"`, raw.datatype, raw.shape, raw.data) };
  } catch (err) {
    // A client mistake travels as its message; anything else is left for the inline decode to meet again.
    if (!(err instanceof AppError)) return null;
    decoded = { error: err.message };
  }
  raw.data = null;
  return decoded;
}

/** The buffers to move rather than copy back to the HTTP thread. */
export function transferablesOf(reply: WorkerReply): ArrayBuffer[] {
  if (reply.kind !== 'parsed') return [];
  const buffers = new Set<ArrayBuffer>();
  for (const d of reply.decoded) {
    if (d && 'tensor' in d && !Array.isArray(d.tensor.data)) buffers.add((d.tensor.data as { buffer: ArrayBuffer }).buffer);
  }
  return [...buffers];
}

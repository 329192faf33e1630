/**
 * Triton's binary tensor data extension: a JSON header of Inference-Header-Content-Length bytes,
 * then the tensors' bytes in input (or output) order.
 */
import { AppError } from '../common/errors/app-error.js';
import { fail, show } from './codec-errors.js';

const utf8Header = new TextDecoder('utf-8', { fatal: true });

/** Splits a binary-extension request at Inference-Header-Content-Length; without it all is JSON. */
export function splitInferRequest(body: Buffer, headerLength: number | undefined): { header: unknown; binary: Buffer } {
  const length = headerLength ?? body.length;
  if (!Number.isSafeInteger(length) || length < 0) {
    fail(`Inference-Header-Content-Length must be a non-negative integer, got ${show(headerLength)}`);
  }
  if (length > body.length) fail(`Inference-Header-Content-Length (${length}) exceeds the body (${body.length} bytes)`);
  // Without the header the whole body is the JSON: one that is not says what it lacks.
  const notJson = headerLength === undefined ? MISSING_HEADER_LENGTH : 'Inference header is not valid JSON';
  return { header: parseHeader(body.subarray(0, length), notJson), binary: body.subarray(length) };
}

export const MISSING_HEADER_LENGTH =
  'Binary tensor data needs the Inference-Header-Content-Length header (the byte length of the JSON header before the tensor bytes); ' +
  'without it the whole body must be JSON, and it is not';

/** Hands each input with `parameters.binary_data_size` its bytes, in input order; all bytes must be used. */
export function takeBinaryInputs(
  inputs: ReadonlyArray<{ name: string; parameters?: Record<string, unknown> }>,
  binary: Buffer,
): Map<string, Buffer> {
  const taken = new Map<string, Buffer>();
  let offset = 0;
  for (const input of inputs) {
    const size = input.parameters?.binary_data_size;
    if (size === undefined) continue;
    const what = `input ${JSON.stringify(input.name)}`;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      fail(`${what}: parameters.binary_data_size must be a non-negative integer, got ${show(size)}`);
    }
    if (taken.has(input.name)) fail(`${what} has binary data twice`);
    const left = binary.length - offset;
    if (size > left) fail(`${what}: binary_data_size is ${size} bytes, but only ${left} bytes of binary data are left`);
    taken.set(input.name, binary.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== binary.length) {
    fail(`binary data has ${binary.length - offset} bytes left over: the inputs' binary_data_size add up to ${offset}`);
  }
  return taken;
}

/** The JSON header (its byte length goes in Inference-Header-Content-Length) followed by the chunks. */
export function joinInferResponse(header: object, chunks: readonly Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}

const MAY_POISON = /__proto__|constructor|\\u/;

function parseHeader(bytes: Uint8Array, notJson: string): unknown {
  let header: unknown;
  try {
    const text = utf8Header.decode(bytes);
    header = MAY_POISON.test(text) ? JSON.parse(text, rejectPoison) : JSON.parse(text);
  } catch (err) {
    if (err instanceof AppError) throw err;
    fail(notJson);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('Inference header must be a JSON object');
  }
  return header;
}

function rejectPoison(key: string, value: unknown): unknown {
  const isPrototype = key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value;
  if (key === '__proto__' || isPrototype) {
    fail('Inference header has a forbidden "__proto__" or "constructor.prototype" key');
  }
  return value;
}

import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { readForm } from '../common/http/multipart-form.js';

export type MediaKind = 'image' | 'audio';

export interface MediaItem {
  bytes: Buffer;
  /** Where it came from, for error messages: a form field and file name, a JSON path, or "body". */
  source: string;
  contentType?: string;
}

export interface MediaRequest {
  items: MediaItem[];
  /** The other form fields, JSON properties or query parameters: the route's options. */
  options: Record<string, unknown>;
  /** The client sent a list (JSON `images`, several files): answer with one result per item. */
  batch: boolean;
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_\r\n-]*$/;

/**
 * Reads the media of a task request, whichever way it came:
 * - multipart/form-data: file parts (any field name) are the media, other fields the options;
 * - a raw image/*, audio/* or application/octet-stream body: the media, with options in the query;
 * - JSON: `{ "<kind>": base64 or data: URL, ... }` or `{ "<kind>s": [...] }` for a batch, or Hugging Face's
 *   `{ "inputs": ..., "parameters": {...} }`.
 */
export async function readMedia(request: FastifyRequest, kind: MediaKind): Promise<MediaRequest> {
  const query = { ...(request.query as Record<string, unknown>) };
  if (request.isMultipart()) return readMultipart(request, query);
  const body = request.body;
  if (Buffer.isBuffer(body)) {
    if (body.length === 0)
      throw new AppError(
        ErrorCode.EmptyBody,
        `the request body is empty; send the ${kind} as the body, as a multipart file, or as base64 JSON`,
      );
    return { items: [{ bytes: body, source: 'body', contentType: request.headers['content-type'] }], options: query, batch: false };
  }
  if (body === undefined || body === null) {
    throw new AppError(
      ErrorCode.EmptyBody,
      `no ${kind} sent; send it as the body (Content-Type ${kind}/...), as a multipart file, or as JSON {"${kind}": "<base64>"}`,
    );
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError(ErrorCode.ValidationFailed, `a JSON body must be an object with "${kind}" (base64) or "${kind}s" (a list)`);
  }
  const { [kind]: single, [`${kind}s`]: many, ...options } = fromHfBody(body as Record<string, unknown>, kind);
  if (single !== undefined && many !== undefined)
    throw new AppError(ErrorCode.ValidationFailed, `send either "${kind}" or "${kind}s", not both`);
  if (many !== undefined) {
    if (!Array.isArray(many) || many.length === 0)
      throw new AppError(ErrorCode.ValidationFailed, `"${kind}s" must be a non-empty list of base64 strings`);
    const items = many.map((value, i) => ({ bytes: decodeBase64(value, `${kind}s[${i}]`), source: `${kind}s[${i}]` }));
    return { items, options: { ...query, ...options }, batch: true };
  }
  if (single === undefined)
    throw new AppError(ErrorCode.ValidationFailed, `the JSON body has no "${kind}" (base64) or "${kind}s" (a list)`);
  return { items: [{ bytes: decodeBase64(single, kind), source: kind }], options: { ...query, ...options }, batch: false };
}

/**
 * A Hugging Face Inference JSON body, `{"inputs": base64 or [base64, ...], "parameters": {...}}`,
 * as Lathe's own: the media under `<kind>` / `<kind>s` and the parameters as options.
 */
function fromHfBody(body: Record<string, unknown>, kind: MediaKind): Record<string, unknown> {
  if (!('inputs' in body) || kind in body || `${kind}s` in body) return body;
  const { inputs, parameters, ...rest } = body;
  if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))) {
    throw new AppError(ErrorCode.ValidationFailed, '"parameters" must be an object');
  }
  return { ...rest, ...(parameters as Record<string, unknown> | undefined), [Array.isArray(inputs) ? `${kind}s` : kind]: inputs };
}

async function readMultipart(request: FastifyRequest, query: Record<string, unknown>): Promise<MediaRequest> {
  const items: MediaItem[] = [];
  const options: Record<string, unknown> = { ...query };
  for (const part of await readForm(request)) {
    if (part.type === 'file') {
      const source = `${part.fieldname}${part.filename ? ` (${part.filename})` : ''}`;
      if (part.bytes.length === 0) throw new AppError(ErrorCode.EmptyBody, `the file in form field ${source} is empty`);
      items.push({ bytes: part.bytes, source, contentType: part.mimetype });
    } else {
      options[part.fieldname] = part.value;
    }
  }
  if (items.length === 0) throw new AppError(ErrorCode.EmptyBody, 'the form has no file part');
  return { items, options, batch: items.length > 1 };
}

/** Strict base64 (or base64url, or a data: URL): a typo is an error, not silently skipped bytes. */
function decodeBase64(value: unknown, where: string): Buffer {
  if (typeof value !== 'string') throw new AppError(ErrorCode.ValidationFailed, `${where} must be a base64 string`);
  const text = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  if (text.length === 0) throw new AppError(ErrorCode.EmptyBody, `${where} is empty`);
  if (!BASE64.test(text) && !BASE64URL.test(text)) throw new AppError(ErrorCode.ValidationFailed, `${where} is not valid base64`);
  const bytes = Buffer.from(text, BASE64.test(text) ? 'base64' : 'base64url');
  // One base64 character alone ("1") holds no whole byte.
  if (bytes.length === 0) throw new AppError(ErrorCode.ValidationFailed, `${where} is not valid base64: it decodes to no bytes`);
  return bytes;
}

/**
 * Validates a route's options with its declared (strict) schema, the one its OpenAPI document shows. Multipart fields and query parameters arrive as strings, so
 * numbers and booleans are coerced; unknown options are an error so typos do not pass silently.
 */
export function parseOptions<T extends z.ZodObject>(schema: T, options: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({
    field: i.path.join('.') || String((i as { keys?: string[] }).keys ?? ''),
    problems: [i.message],
  }));
  throw new AppError(
    ErrorCode.ValidationFailed,
    `invalid options: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`,
    details,
  );
}

/** A route's options: unknown ones are an error so typos do not pass silently. */
export const mediaOptions = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

/** Option helpers that accept the string forms multipart and query strings carry. */
export const opt = {
  number: (min: number, max: number) => z.coerce.number().min(min).max(max),
  int: (min: number, max: number) => z.coerce.number().int().min(min).max(max),
  bool: () => z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]),
  model: () => z.string().min(1).max(200),
};

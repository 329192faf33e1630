/**
 * What every response must satisfy, and the bookkeeping of what broke: distinct failures by
 * (operation, status, code, kind), each with a count, the finding it belongs to if already known, and a reproducer.
 */
import { ERROR_CODES, ErrorCode } from '../../src/common/errors/error-code.js';
import { isTeiPath } from '../../src/common/errors/tei-errors.js';
import type { FuzzRequest } from './fuzz-requests.js';
import type { Operation } from './fuzz-spec.js';

export interface FuzzResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

export interface Violation {
  kind: string;
  code: string;
  detail: string;
}

const CODES = new Set<string>(Object.values(ErrorCode));
/** TEI's ErrorType values: TEI's routes answer `{"error", "error_type"}`. */
const TEI_ERROR_TYPES = new Set(['Unhealthy', 'Backend', 'Overloaded', 'Validation', 'Tokenizer', 'Empty']);
/** 5xx answers a client may see: a dependency or model not ready (503) and a passed deadline (504). */
const DOCUMENTED_5XX = new Set([503, 504]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Routes under /v2 answer `{"error": string}`; every other route the coded body. */
export function isV2Url(url: string): boolean {
  return url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?');
}

/** The first rule the response breaks, or undefined. */
export function judge(request: FuzzRequest, response: FuzzResponse): Violation | undefined {
  const { statusCode: status } = response;
  // HEAD has the status and headers of GET, never a body.
  if (request.method === 'HEAD')
    return status >= 500 && !DOCUMENTED_5XX.has(status) ? { kind: 'server error', code: '-', detail: '(HEAD)' } : undefined;
  const type = String(response.headers['content-type'] ?? '');
  let parsed: unknown;
  let json = false;
  if (/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
    try {
      parsed = JSON.parse(response.body);
      json = true;
    } catch {
      return { kind: 'unparsable JSON', code: '-', detail: response.body.slice(0, 200) };
    }
  }
  // Readiness answers 503 with its own report (which check is down), not an error body.
  const path = request.url.split('?')[0];
  if (path === '/health/ready' && (status === 200 || status === 503)) {
    return isObject(parsed) && typeof parsed.status === 'string' && isObject(parsed.checks)
      ? undefined
      : { kind: 'readiness body', code: '-', detail: response.body.slice(0, 300) };
  }
  if (path === '/v2/health/ready' && (status === 200 || status === 503)) {
    return isObject(parsed) && parsed.ready === (status === 200)
      ? undefined
      : { kind: 'readiness body', code: '-', detail: response.body.slice(0, 300) };
  }
  if (status < 400) return undefined;
  const code = isObject(parsed) && isObject(parsed.error) && typeof parsed.error.code === 'string' ? parsed.error.code : '-';
  if (status >= 500 && !DOCUMENTED_5XX.has(status)) return { kind: 'server error', code, detail: response.body.slice(0, 300) };
  if (!json || !isObject(parsed))
    return { kind: 'error body is not a JSON object', code: '-', detail: `${type}: ${response.body.slice(0, 200)}` };
  if (isTeiPath(request.url)) {
    const keys = Object.keys(parsed).sort().join(',');
    if (keys !== 'error,error_type' || typeof parsed.error !== 'string' || !TEI_ERROR_TYPES.has(String(parsed.error_type)))
      return { kind: 'TEI error body is not {"error": string, "error_type": ErrorType}', code, detail: response.body.slice(0, 300) };
    return undefined;
  }
  if (isV2Url(request.url)) {
    const keys = Object.keys(parsed);
    if (keys.length !== 1 || typeof parsed.error !== 'string')
      return { kind: 'v2 error body is not {"error": string}', code, detail: response.body.slice(0, 300) };
    return undefined;
  }
  const keys = Object.keys(parsed).sort().join(',');
  if (keys !== 'error,requestId' || !isObject(parsed.error))
    return { kind: 'error body is not {error, requestId}', code, detail: response.body.slice(0, 300) };
  const error = parsed.error;
  const extra = Object.keys(error).filter((k) => !['code', 'message', 'type', 'param', 'details'].includes(k));
  if (extra.length > 0 || typeof error.message !== 'string')
    return { kind: 'error object has the wrong fields', code, detail: response.body.slice(0, 300) };
  if (!CODES.has(code)) return { kind: 'unknown error code', code, detail: response.body.slice(0, 300) };
  const expected = ERROR_CODES[code as ErrorCode].status;
  if (expected !== status) return { kind: `status ${status} but ${code} is ${expected}`, code, detail: response.body.slice(0, 300) };
  // What the Errors table promises besides the body: a challenge with 401, when to come back with 429.
  if (status === 401 && response.headers['www-authenticate'] !== 'Bearer')
    return { kind: '401 without WWW-Authenticate: Bearer', code, detail: String(response.headers['www-authenticate']) };
  if (status === 429 && !/^\d+$/.test(String(response.headers['retry-after'] ?? '')))
    return { kind: '429 without Retry-After', code, detail: response.body.slice(0, 300) };
  if (typeof parsed.requestId !== 'string' || parsed.requestId !== response.headers['x-request-id']) {
    return {
      kind: 'requestId differs from x-request-id',
      code,
      detail: `${String(parsed.requestId)} vs ${String(response.headers['x-request-id'])}`,
    };
  }
  return undefined;
}

/** Findings other branches fix; a failure that matches one is labelled, not hidden. */
export function knownFinding(request: FuzzRequest, response: FuzzResponse, serverLog = ''): string | undefined {
  // A batch's own files overload the decoders (and the error, relabelled per file, loses Retry-After).
  if (response.statusCode === 429 && /\(.*\): audio decoding: \d+ running/.test(response.body)) return 'too many audio files/images -> 429';
  if (response.statusCode !== 500) return undefined;
  // The server's own log line names the cause when there is one; the request's shape is the fallback.
  if (/0x00|\\u0000 cannot be converted/.test(serverLog)) return 'NUL in ids -> 500 from Postgres';
  if (/Unexpected end of (form|multipart)|Malformed part header|Boundary not found|Multipart|busboy/i.test(serverLog))
    return 'malformed multipart -> 500';
  if (serverLog) return undefined;
  const type = request.headers['content-type'] ?? '';
  if (/%00/.test(request.url.split('?')[0]!)) return 'NUL in ids -> 500 from Postgres';
  if (/^multipart\//i.test(type)) return 'malformed multipart -> 500';
  const jsonNul = /json/i.test(type) && ((request.payload?.includes(0) ?? false) || (request.payload?.includes('\\u0000') ?? false));
  if (/%00/.test(request.url) || jsonNul) return 'NUL in ids -> 500 from Postgres';
  return undefined;
}

export interface Failure {
  operation: string;
  signature: string;
  violation: Violation;
  status: number;
  known?: string;
  /** The error the server logged for the first (or shrunk) request. */
  serverLog?: string;
  count: number;
  /** The first request that showed it, then the smallest one fast-check shrank it to. */
  request: FuzzRequest;
  response: FuzzResponse;
  /** The operation, its seed and the index of the first run that showed it: fast-check's replay path. */
  op: Operation;
  seed: number;
  run: number;
}

export function signatureOf(operation: string, status: number, violation: Violation): string {
  return `${operation} -> ${status} ${violation.code} (${violation.kind})`;
}

/** The request as a curl command against 127.0.0.1 (payload shown up to 400 bytes, escaped). */
export function reproducer(request: FuzzRequest): string {
  const headers = Object.entries(request.headers)
    .map(([k, v]) => ` -H ${JSON.stringify(`${k}: ${v.length > 200 ? v.slice(0, 200) + '…' : v}`)}`)
    .join('');
  const url = request.url.length > 300 ? request.url.slice(0, 300) + '…' : request.url;
  let data = '';
  if (request.payload) {
    const shown = request.payload
      .subarray(0, 400)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    data = ` --data-binary $'${shown.replace(/'/g, "\\'")}'${request.payload.length > 400 ? ` (… ${request.payload.length} bytes in all)` : ''}`;
  }
  return `curl -X ${request.method} 'http://127.0.0.1:8080${url}'${headers}${data}`;
}

export function formatFailures(failures: readonly Failure[]): string {
  if (failures.length === 0) return 'no failures';
  const lines = [`${failures.length} distinct failure(s), ${failures.reduce((n, f) => n + f.count, 0)} failing request(s):`];
  for (const f of failures) {
    lines.push(`- [${f.known ? 'known' : 'NEW'}] ${f.signature} x${f.count}`);
    lines.push(`    ${reproducer(f.request)}`);
    lines.push(`    -> ${f.response.statusCode} ${f.response.body.slice(0, 300)}`);
    if (f.serverLog) lines.push(`    server log: ${f.serverLog.slice(0, 300)}`);
  }
  return lines.join('\n');
}

import { HttpException } from '@nestjs/common';
import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';
import { databaseUnavailable, isDatabaseUnavailable } from './unavailable.js';

/** Fastify's own errors (body parsing, limits) by their `code`. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.MalformedJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.EmptyBody,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PayloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.ValidationFailed,
  FST_ERR_CTP_INVALID_TYPE: ErrorCode.UnsupportedMediaType,
  FST_ERR_CTP_EMPTY_TYPE: ErrorCode.UnsupportedMediaType,
  // @fastify/multipart
  FST_REQ_FILE_TOO_LARGE: ErrorCode.PayloadTooLarge,
  FST_PARTS_LIMIT: ErrorCode.PayloadTooLarge,
  FST_FILES_LIMIT: ErrorCode.PayloadTooLarge,
  FST_FIELDS_LIMIT: ErrorCode.PayloadTooLarge,
  FST_PROTO_VIOLATION: ErrorCode.ValidationFailed,
  FST_INVALID_JSON_FIELD_ERROR: ErrorCode.MalformedMultipart,
  FST_MP_PREMATURE_CLOSE: ErrorCode.MalformedMultipart,
  FST_INVALID_MULTIPART_CONTENT_TYPE: ErrorCode.UnsupportedMediaType,
};

const FASTIFY_MESSAGES: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.MalformedJson]: 'Body is not valid JSON',
  [ErrorCode.EmptyBody]: 'Body is empty but Content-Type is application/json',
};

/** Nest's own HttpExceptions, raised by the router (404) and framework pieces, by status. */
const HTTP_STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.MissingApiKey,
  403: ErrorCode.InsufficientScope,
  404: ErrorCode.RouteNotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.Overloaded,
  503: ErrorCode.Unavailable,
  504: ErrorCode.DeadlineExceeded,
};

/**
 * Maps anything thrown to an AppError. Returns `undefined` for errors Lathe does not know,
 * which the filter answers as 500 INTERNAL and logs with their stack.
 */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  // Nest wraps Fastify's 4xx errors in an HttpException; the Fastify code says more than the status.
  if (err instanceof HttpException && err.cause !== undefined) {
    const inner = toAppError(err.cause);
    if (inner) return inner;
  }
  if (err instanceof HttpException) {
    const code = HTTP_STATUS_CODES[err.getStatus()];
    return code ? new AppError(code, httpExceptionMessage(err)) : undefined;
  }
  const fastifyCode = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof fastifyCode === 'string' && fastifyCode in FASTIFY_CODES) {
    const code = FASTIFY_CODES[fastifyCode];
    return new AppError(code, FASTIFY_MESSAGES[code] ?? (err as Error).message);
  }
  // A stopped, frozen or unreachable database is a passing fault, not a bug: 503 and when to retry.
  if (isDatabaseUnavailable(err)) return databaseUnavailable();
  return undefined;
}

function httpExceptionMessage(err: HttpException): string {
  const body = err.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : err.message;
}

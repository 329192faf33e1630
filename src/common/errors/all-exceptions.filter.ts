import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './app-error.js';
import { ErrorCode, openAiTypeOf, type OpenAiErrorType } from './error-code.js';
import { isTeiPath, type TeiErrorType, teiErrorType } from './tei-errors.js';
import { toAppError } from './to-app-error.js';

/** The Open Inference Protocol answers errors as `{"error": "message"}`, TEI's routes as TEI does; everything else gets the envelope. */
const OIP_PREFIX = '/v2';

/** Lathe's code, message and details, with OpenAI's `type` and `param` so OpenAI's SDKs read them too. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; type: OpenAiErrorType; param: string | null; details?: unknown };
  requestId: string;
}

/** The `context` field of the filter's log lines, as Nest's Logger would write it. */
const LOG_CONTEXT = 'Errors';

/** Lines go through the request's logger, which binds its `requestId`. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    let error = toAppError(exception) ?? this.internal(exception, request);
    if (
      error.code === ErrorCode.UnsupportedMediaType &&
      request.headers['content-type'] &&
      !error.message.includes(request.headers['content-type'])
    ) {
      error = new AppError(
        error.code,
        `${error.message}: ${request.headers['content-type']} is not accepted here`,
        error.details,
        error.headers,
      );
    }
    if (error.status >= 500 && error.code !== ErrorCode.Internal) {
      request.log.warn({ context: LOG_CONTEXT }, `${error.code}: ${error.message}`);
    }
    for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
    if (error.code === ErrorCode.MissingApiKey || error.code === ErrorCode.InvalidApiKey) {
      reply.header('www-authenticate', 'Bearer');
    }
    reply.status(error.status).send(renderError(error, request));
  }

  private internal(exception: unknown, request: FastifyRequest): AppError {
    const stack = exception instanceof Error ? exception.stack : String(exception);
    request.log.error({ context: LOG_CONTEXT, stack }, `Unhandled error on ${request.method} ${request.url}`);
    return new AppError(ErrorCode.Internal, 'Internal server error');
  }
}

export function renderError(
  error: AppError,
  request: FastifyRequest,
): ErrorBody | { error: string } | { error: string; error_type: TeiErrorType } {
  if (isOipPath(request.url)) return { error: error.message };
  if (isTeiPath(request.url)) return { error: error.message, error_type: teiErrorType(error.code) };
  return { error: errorObject(error.code, error.message, error.details), requestId: String(request.id) };
}

/**
 * The `error` object of the envelope. `param` (OpenAI's) is the request field the error is about:
 * the first field a validation failure lists, or `details.param` (e.g. a file id that names no file).
 */
export function errorObject(code: ErrorCode, message: string, details?: unknown): ErrorBody['error'] {
  const error: ErrorBody['error'] = { code, message, type: openAiTypeOf(code), param: paramOf(details) };
  if (details !== undefined) error.details = details;
  return error;
}

function paramOf(details: unknown): string | null {
  const named = typeof details === 'object' && details !== null ? (details as { param?: unknown }).param : undefined;
  const field = Array.isArray(details) ? (details[0] as { field?: unknown } | undefined)?.field : named;
  return typeof field === 'string' && field !== '' && !field.startsWith('(') ? field : null;
}

function isOipPath(url: string): boolean {
  return url === OIP_PREFIX || url.startsWith(`${OIP_PREFIX}/`) || url.startsWith(`${OIP_PREFIX}?`);
}

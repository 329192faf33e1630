import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { errorObject, renderError } from '../errors/all-exceptions.filter.js';
import { ErrorCode, statusOf } from '../errors/error-code.js';

/**
 * The longest path parameter the router accepts (find-my-way's default is 100). Model names reach 200
 * characters (`opt.model()`), and a fine-tuned model's `ft:<backbone>:<suffix>:<job>` passes 100 with a long suffix.
 */
export const MAX_PATH_PARAM_LENGTH = 512;

/**
 * Fastify's router refuses some URLs itself, before any hook, route or Nest filter runs: a path that is
 * not valid percent-encoded UTF-8 (`%zz`, `%C3%28`, a lone `%`) and a path parameter longer than
 * maxParamLength. By default it answers with its own body; this gives them Lathe's.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const known: Record<string, string> = {
    FST_ERR_BAD_URL: 'The URL path is not valid percent-encoded UTF-8',
    FST_ERR_MAX_PARAM_LENGTH: `A path parameter is longer than ${MAX_PATH_PARAM_LENGTH} characters`,
  };
  const message = known[error.code];
  const appError = message ? new AppError(ErrorCode.ValidationFailed, message) : new AppError(ErrorCode.Internal, 'Internal server error');
  if (!message) request.log.error({ err: error }, 'router error');
  void reply.header('x-request-id', request.id).code(appError.status).send(renderError(appError, request));
}

/**
 * Node's HTTP parser refuses a request before Fastify sees one: broken framing (a body cut short of its
 * Content-Length, a bad chunk size, both Content-Length and Transfer-Encoding), bytes a request line or
 * header may not hold, headers over the size limit, a request not received within the server's timeout.
 * Fastify's default answer has no code; this one is Lathe's body (or `{"error"}` under /v2), then closes.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  // A reset connection is gone: there is no one to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [ErrorCode.HeadersTooLarge, 'Request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [ErrorCode.RequestTimeout, 'The request was not received in time']
        : [ErrorCode.MalformedRequest, 'Malformed HTTP request'];
  const status = statusOf(code);
  const requestId = randomUUID();
  // The request line, when the parser got that far, says whether this was an Open Inference Protocol route.
  const line = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.toString('latin1', 0, 64) : '';
  const body = JSON.stringify(/^[A-Z]+ \/v2([/?\s]|$)/.test(line) ? { error: message } : { error: errorObject(code, message), requestId });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

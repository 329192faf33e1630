import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { ErrorCode } from '../errors/error-code.js';

const MISSING_HEADER_LENGTH =
  'Body is not valid JSON: binary tensor data needs the Inference-Header-Content-Length header (the byte length of the JSON header before the tensor bytes)';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses some JSON bodies elsewhere (a worker pool), with the same errors as the inline parser.
 * `route` is Fastify's route pattern, e.g. `/v2/models/:model/infer`.
 */
export interface JsonOffload {
  wants(route: string | undefined, bytes: number): boolean;
  parse(body: Buffer): Promise<unknown>;
}

/**
 * JSON bodies must be valid UTF-8: Fastify's parser would silently turn bad bytes into U+FFFD.
 * Parsing itself stays Fastify's (with its prototype-poisoning protection). Plain text has no
 * parser, so a JSON route answers 415 to it rather than failing validation on a string.
 */
export function installStrictJsonParser(fastify: FastifyInstance, offload?: JsonOffload): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // Triton's binary tensor data extension: a JSON header followed by raw tensor bytes.
    if (request.headers['inference-header-content-length'] !== undefined) {
      done(null, body);
      return;
    }
    if (offload?.wants(request.routeOptions.url, (body as Buffer).length)) {
      offload.parse(body as Buffer).then(
        (value) => done(null, value),
        (err: Error) => done(err, undefined),
      );
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(binaryWithoutLength(body as Buffer) ?? new AppError(ErrorCode.InvalidUtf8, 'Body is not valid UTF-8'), undefined);
      return;
    }
    parseJson(request, text, (err, value) => done(err ? (binaryWithoutLength(body as Buffer) ?? err) : null, value));
  });
  fastify.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

/** A JSON header followed by tensor bytes, sent without its length (Triton's binary tensor data extension). */
function binaryWithoutLength(body: Buffer): AppError | undefined {
  return body[0] === 0x7b && body.includes('"binary_data_size"') ? new AppError(ErrorCode.MalformedJson, MISSING_HEADER_LENGTH) : undefined;
}

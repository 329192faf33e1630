import { z } from 'zod';
import { ErrorCode } from '../common/errors/error-code.js';
import type { RequestSchemas } from '../common/openapi/endpoint-registry.js';
import type { MediaKind } from './media-input.js';

/** The raw bodies a media route takes: the bytes themselves, options in the query. */
const RAW_MEDIA: Record<MediaKind, string[]> = {
  image: ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'],
  audio: ['audio/wav', 'audio/mpeg', 'audio/ogg', 'audio/flac', 'application/octet-stream'],
};

/**
 * A media route's request, from its one options schema (the one its service parses with): the
 * options as query parameters (with a raw body), as multipart fields beside the file, or as JSON
 * properties beside base64 media.
 */
export function mediaRequest(kind: MediaKind, options: z.ZodObject, jsonExample: Record<string, unknown>): RequestSchemas {
  return {
    query: options.partial(),
    form: { files: { [kind]: `the ${kind}; several file parts get one result each` }, fields: options },
    body: options.extend({
      [kind]: z.string().optional().describe('base64 or a data: URL'),
      [`${kind}s`]: z.array(z.string()).optional().describe('a batch: one result per item'),
    }),
    bodyExample: jsonExample,
    raw: RAW_MEDIA[kind],
  };
}

export const TASK_ERRORS = [
  ErrorCode.ValidationFailed,
  ErrorCode.MalformedMultipart,
  ErrorCode.EmptyBody,
  ErrorCode.UnsupportedMediaType,
  ErrorCode.PayloadTooLarge,
  ErrorCode.TooManyInputs,
  ErrorCode.MediaInvalid,
  ErrorCode.MediaTooLarge,
  ErrorCode.ModelNotFound,
  ErrorCode.ModelNotInstalled,
  ErrorCode.ModelLoadFailed,
  ErrorCode.Overloaded,
  ErrorCode.DeadlineExceeded,
];

export const TASK_HEADERS =
  'Response headers: x-model and x-model-version (the model that answered), x-execution-provider, x-queue-time-ms, ' +
  'x-inference-time-ms, and Server-Timing (decode, queue, inference, total).';

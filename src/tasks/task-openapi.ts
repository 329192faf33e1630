import { ErrorCode } from '../common/errors/error-code.js';

/** What every task route documents: the ways media may be sent, its errors, its headers. */
export const MEDIA_CONSUMES = {
  image: ['multipart/form-data', 'application/json', 'image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'],
  audio: ['multipart/form-data', 'application/json', 'audio/wav', 'audio/mpeg', 'audio/ogg', 'audio/flac', 'application/octet-stream'],
};

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

/** Every error code Lathe answers with. The table below is the single source of each code's HTTP status. */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  MalformedJson = 'MALFORMED_JSON',
  MalformedMultipart = 'MALFORMED_MULTIPART',
  InvalidUtf8 = 'INVALID_UTF8',
  EmptyBody = 'EMPTY_BODY',
  MalformedRequest = 'MALFORMED_REQUEST',
  HeadersTooLarge = 'HEADERS_TOO_LARGE',
  RequestTimeout = 'REQUEST_TIMEOUT',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  TooManyInputs = 'TOO_MANY_INPUTS',
  RouteNotFound = 'ROUTE_NOT_FOUND',
  NotFound = 'NOT_FOUND',
  ModelNotFound = 'MODEL_NOT_FOUND',
  ModelNotReady = 'MODEL_NOT_READY',
  ModelLoadFailed = 'MODEL_LOAD_FAILED',
  ModelNotDeletable = 'MODEL_NOT_DELETABLE',
  MissingApiKey = 'MISSING_API_KEY',
  InvalidApiKey = 'INVALID_API_KEY',
  InsufficientScope = 'INSUFFICIENT_SCOPE',
  MediaInvalid = 'MEDIA_INVALID',
  MediaTooLarge = 'MEDIA_TOO_LARGE',
  AudioTooLong = 'AUDIO_TOO_LONG',
  InputTooLong = 'INPUT_TOO_LONG',
  ContextLengthExceeded = 'CONTEXT_LENGTH_EXCEEDED',
  ModelNotInstalled = 'MODEL_NOT_INSTALLED',
  Conflict = 'CONFLICT',
  DatasetInvalid = 'DATASET_INVALID',
  TrainingBudgetExceeded = 'TRAINING_BUDGET_EXCEEDED',
  Overloaded = 'OVERLOADED',
  Unavailable = 'UNAVAILABLE',
  DeadlineExceeded = 'DEADLINE_EXCEEDED',
  Internal = 'INTERNAL',
}

interface ErrorCodeInfo {
  status: number;
  /** One line for the OpenAPI document. */
  description: string;
}

export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorCodeInfo>> = Object.freeze({
  [ErrorCode.ValidationFailed]: { status: 400, description: 'The request body, query or path failed validation.' },
  [ErrorCode.MalformedJson]: { status: 400, description: 'The body is not valid JSON.' },
  [ErrorCode.MalformedMultipart]: {
    status: 400,
    description: 'The body is not a complete multipart/form-data body with the boundary its Content-Type names.',
  },
  [ErrorCode.InvalidUtf8]: { status: 400, description: 'The body is not valid UTF-8.' },
  [ErrorCode.EmptyBody]: { status: 400, description: 'A body was required but none was sent.' },
  [ErrorCode.MalformedRequest]: {
    status: 400,
    description: 'The HTTP request could not be parsed (broken framing, a body cut short, bytes a request line or header may not hold).',
  },
  [ErrorCode.HeadersTooLarge]: { status: 431, description: 'The request headers are larger than the server accepts.' },
  [ErrorCode.RequestTimeout]: { status: 408, description: "The request was not received within the server's request timeout." },
  [ErrorCode.UnsupportedMediaType]: { status: 415, description: 'The Content-Type is not accepted by this route.' },
  [ErrorCode.PayloadTooLarge]: { status: 413, description: 'The body is larger than the configured limit.' },
  [ErrorCode.TooManyInputs]: {
    status: 413,
    description: 'More inputs (images, audio files, texts) than one request can ever run; `details.limit` is the most.',
  },
  [ErrorCode.RouteNotFound]: { status: 404, description: 'No route matches this method and path.' },
  [ErrorCode.NotFound]: { status: 404, description: 'The resource does not exist.' },
  [ErrorCode.ModelNotFound]: { status: 404, description: 'No such model, or no such version of it, in the repository.' },
  [ErrorCode.ModelNotReady]: { status: 400, description: 'The model is known but not loaded (load it, or wait for it).' },
  [ErrorCode.ModelLoadFailed]: { status: 503, description: 'The model could not be loaded; the message says why.' },
  [ErrorCode.ModelNotDeletable]: {
    status: 400,
    description: 'Only fine-tuned models can be deleted: not a model of the repository folder, nor a checkpoint on its own.',
  },
  [ErrorCode.MissingApiKey]: { status: 401, description: 'No `Authorization: Bearer` API key was sent.' },
  [ErrorCode.InvalidApiKey]: { status: 401, description: 'The API key is not known.' },
  [ErrorCode.InsufficientScope]: { status: 403, description: 'The API key lacks the scope this route needs.' },
  [ErrorCode.MediaInvalid]: {
    status: 422,
    description: 'The image or audio could not be decoded (corrupt, truncated, or not that kind of media).',
  },
  [ErrorCode.MediaTooLarge]: {
    status: 413,
    description: "The image's pixels, longer side or aspect ratio is beyond the configured limit (read from its header, before decoding).",
  },
  [ErrorCode.InputTooLong]: {
    status: 413,
    description: 'A text input has more tokens than the model takes and truncation was not asked for.',
  },
  [ErrorCode.ContextLengthExceeded]: {
    status: 400,
    description: "The prompt plus max_tokens is longer than the model's context (or the server's cache budget for one sequence).",
  },
  [ErrorCode.AudioTooLong]: { status: 413, description: 'The audio is longer than the configured limit.' },
  [ErrorCode.ModelNotInstalled]: { status: 503, description: "The task's model file is not installed on this server." },
  [ErrorCode.Conflict]: { status: 409, description: 'The request conflicts with the current state.' },
  [ErrorCode.DatasetInvalid]: {
    status: 400,
    description: 'The fine-tuning dataset is not JSON Lines, or its validation report has errors (in details).',
  },
  [ErrorCode.TrainingBudgetExceeded]: {
    status: 413,
    description:
      'The fine-tuning job would pass a configured training budget (rows, classes, feature bytes or head parameters; details say which, the value and the limit).',
  },
  [ErrorCode.Overloaded]: { status: 429, description: 'The queue is full; retry after the Retry-After header.' },
  [ErrorCode.Unavailable]: {
    status: 503,
    description:
      'The service or a dependency (the database) is not ready or not answering; retry after the Retry-After header when there is one.',
  },
  [ErrorCode.DeadlineExceeded]: { status: 504, description: 'The request did not finish within its deadline.' },
  [ErrorCode.Internal]: { status: 500, description: 'An unexpected error; details are in the server log.' },
});

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** OpenAI's `error.type`, which OpenAI's SDKs read beside the status; it follows from the status. */
export type OpenAiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'requests' | 'server_error';

export function openAiTypeOf(code: ErrorCode): OpenAiErrorType {
  const status = statusOf(code);
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  // OpenAI's type for a request-rate limit.
  if (status === 429) return 'requests';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

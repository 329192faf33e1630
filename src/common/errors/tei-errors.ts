import { ErrorCode } from './error-code.js';

/** text-embeddings-inference's error kinds (its ErrorType), the `error_type` of its error bodies. */
export type TeiErrorType = 'Unhealthy' | 'Backend' | 'Overloaded' | 'Validation' | 'Tokenizer' | 'Empty';

/** TEI's routes at the root, and under /tei/{model}/: their errors are TEI's `{"error", "error_type"}`. */
const TEI_ROUTES = new Set(['/embed', '/embed_all', '/embed_sparse', '/rerank', '/predict', '/tokenize', '/decode', '/info']);

export function isTeiPath(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return TEI_ROUTES.has(path) || path.startsWith('/tei/');
}

/** The TEI kind of a Lathe error; the HTTP status stays the one Lathe's error table gives the code. */
export function teiErrorType(code: ErrorCode): TeiErrorType {
  switch (code) {
    case ErrorCode.Overloaded:
      return 'Overloaded';
    case ErrorCode.EmptyBody:
      return 'Empty';
    case ErrorCode.Unavailable:
      return 'Unhealthy';
    case ErrorCode.ModelLoadFailed:
    case ErrorCode.ModelNotInstalled:
    case ErrorCode.DeadlineExceeded:
    case ErrorCode.Internal:
      return 'Backend';
    default:
      return 'Validation';
  }
}

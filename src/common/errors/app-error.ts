import { ErrorCode, statusOf } from './error-code.js';

/** The only error services throw. Its status comes from the ErrorCode table, never from the thrower. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. Retry-After for OVERLOADED. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  /** The same error with a prefix that says which input it is about; code, details and headers (Retry-After) are kept. */
  about(what: string): AppError {
    return new AppError(this.code, `${what}: ${this.message}`, this.details, this.headers);
  }

  get status(): number {
    return statusOf(this.code);
  }
}

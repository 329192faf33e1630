import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/** Client mistakes in a tensor or a request: VALIDATION_FAILED with the message as given. */
export function fail(message: string): never {
  throw new AppError(ErrorCode.ValidationFailed, message);
}

export function showShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** A value as it appears in a message: JSON, cut short so a huge element cannot flood the error. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

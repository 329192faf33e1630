import { AppError } from './app-error.js';
import { ErrorCode } from './error-code.js';

/** What a client is told to wait before retrying when the database does not answer. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** Socket errors: the server is down, restarting or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say "not now" rather than "wrong": 08xxx connection exceptions, 57P01-57P03
 * admin/crash shutdown and cannot-connect-now, 57014 a statement cancelled by statement_timeout,
 * 53300 too many connections, 53xxx the server out of resources.
 */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3]|57014|53[0-9A-Z]{3})$/;

/** pg and pg-pool raise these as plain Errors, without a code. */
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  // pg's own connect timeout (connectionTimeoutMillis), thrown as-is when the pool did not time out first.
  /^timeout expired$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];

/**
 * Whether `err` means the database is unreachable or stalled (a fault that passes), as opposed to
 * a bug or a bad statement. TypeORM wraps driver errors (QueryFailedError copies their code and
 * keeps them in `driverError`); other wrappers put them in `cause`.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const { code, message, driverError, cause } = err as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
  if (typeof message === 'string' && PG_MESSAGES.some((m) => m.test(message))) return true;
  return isDatabaseUnavailable(driverError, depth + 1) || isDatabaseUnavailable(cause, depth + 1);
}

export function databaseUnavailable(): AppError {
  return new AppError(ErrorCode.Unavailable, 'The database is not answering; retry later', undefined, {
    'retry-after': String(DATABASE_RETRY_AFTER_SECONDS),
  });
}

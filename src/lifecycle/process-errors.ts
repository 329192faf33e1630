import { Logger } from '@nestjs/common';
import { isDatabaseUnavailable } from '../common/errors/unavailable.js';

export type ProcessErrorKind = 'uncaughtException' | 'unhandledRejection';

export interface ProcessErrorLogger {
  error(message: string, stack?: string): void;
  fatal(message: string, stack?: string): void;
}

/**
 * What the process does with an error nothing caught (a timer's, a socket's, a forgotten promise's):
 * a database fault (unreachable, stalled, restarted: see isDatabaseUnavailable) is logged with its
 * stack and the process serves on, because the pool replaces broken connections and every
 * background loop retries; anything else leaves the process in a state nobody reasoned about, so it
 * is logged and the process exits 1 for its supervisor to restart it. Returns true when it serves on.
 */
export function handleProcessError(
  err: unknown,
  kind: ProcessErrorKind,
  logger: ProcessErrorLogger,
  exit: (code: number) => void,
): boolean {
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (isDatabaseUnavailable(err)) {
    logger.error(`${kind}: a database fault outside any request; serving on`, stack);
    return true;
  }
  logger.fatal(`${kind}: exiting`, stack);
  exit(1);
  return false;
}

/** Installs handleProcessError for both kinds; returns the uninstaller. */
export function installProcessErrorPolicy(logger: ProcessErrorLogger = new Logger('Process')): () => void {
  const exit = (code: number) => process.exit(code);
  const onException = (err: Error) => void handleProcessError(err, 'uncaughtException', logger, exit);
  const onRejection = (reason: unknown) => void handleProcessError(reason, 'unhandledRejection', logger, exit);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.removeListener('uncaughtException', onException);
    process.removeListener('unhandledRejection', onRejection);
  };
}

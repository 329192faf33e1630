/**
 * Exit codes, from BSD's sysexits.h like the server's own EX_CONFIG (78) for bad configuration,
 * so scripts can tell "fix the command" from "try again later".
 */
export const ExitCode = {
  Ok: 0,
  /** Anything unexpected (a bug, or a filesystem failure we do not classify). */
  Failure: 1,
  /** Bad arguments. */
  Usage: 64,
  /**
   * The Hub's data is wrong: a download did not match the size or hash it published (the bad file
   * was deleted), or its listing names a file in a way that could leave the models folder.
   */
  DataError: 65,
  /** No such model, revision or file (on the Hub or in the local repository). */
  NotFound: 66,
  /** The Hub could not be reached or kept failing; partial downloads are kept for a retry. */
  Unavailable: 69,
  /** The model was downloaded but cannot be described (no usable ONNX file, unreadable config). */
  Software: 70,
  /** The model repository cannot be written (permissions, full disk, read-only filesystem, a symbolic link planted in it). */
  CantCreate: 73,
  /** The Hub refused: a private or gated repository, or a bad HF_TOKEN. */
  NoPermission: 77,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI reports as one line and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A failure worth another attempt (connection dropped, timeout, 5xx, 429). */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

import { resolve } from 'node:path';
import { LATHE_VERSION } from '../common/version.js';
import { type Command, parseCommand } from './args.js';
import { CliError, ExitCode } from './cli-error.js';
import type { RetryPolicy } from './file-download.js';
import { HttpClient } from './http-get.js';
import { HubClient } from './hub-client.js';
import { formatTable, listModels } from './list.command.js';
import { ModelStore } from './model-store.js';
import { BarProgress, LineProgress, type Output } from './progress.js';
import { pull } from './pull.command.js';

/** What the entry file read from the environment (the only place the CLI reads it). */
export interface CliEnv {
  /** LATHE_MODELS_DIR */
  modelsDir?: string;
  /** LATHE_MODEL_FILES_DIR, for `list` to find weights kept outside the repository. */
  modelFilesDir?: string;
  /** HF_ENDPOINT */
  hfEndpoint?: string;
  /** HF_TOKEN */
  hfToken?: string;
}

export interface CliIo {
  stdout: Output;
  stderr: Output & { isTTY?: boolean; columns?: number };
}

export interface CliOptions {
  retry?: RetryPolicy;
  idleTimeoutMs?: number;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const DEFAULT_RETRY: RetryPolicy = { retries: 4, backoffMs: 500 };

/** Runs `lathe <argv>` and resolves with the exit code; messages go to io, never a stack for a known failure. */
export async function runCli(argv: readonly string[], env: CliEnv, io: CliIo, options: CliOptions = {}): Promise<number> {
  try {
    const command = parseCommand(argv);
    if (command.kind === 'help') {
      io.stdout.write(`${command.text}\n`);
      return ExitCode.Ok;
    }
    await execute(command, env, io, options);
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`lathe: ${err.message}\n`);
      return err.exitCode;
    }
    const { code, path, syscall } = err as NodeJS.ErrnoException;
    if (path && code && ['EACCES', 'EPERM', 'ENOSPC', 'EROFS', 'EDQUOT'].includes(code)) {
      io.stderr.write(`lathe: cannot ${syscall ?? 'write'} ${path}: ${code}\n`);
      return ExitCode.CantCreate;
    }
    io.stderr.write(`lathe: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.Failure;
  }
}

async function execute(command: Exclude<Command, { kind: 'help' }>, env: CliEnv, io: CliIo, options: CliOptions): Promise<void> {
  const store = new ModelStore(resolve(command.modelsDir ?? env.modelsDir ?? './models'));
  switch (command.kind) {
    case 'pull': {
      const endpoint = checkEndpoint(env.hfEndpoint ?? DEFAULT_ENDPOINT);
      const http = new HttpClient({
        token: env.hfToken,
        tokenOrigin: new URL(endpoint).origin,
        idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
        userAgent: `lathe/${LATHE_VERSION}; node/${process.versions.node}`,
      });
      const progress = io.stderr.isTTY ? new BarProgress(io.stderr, io.stderr.columns || 100) : new LineProgress(io.stderr);
      const log = (line: string) => io.stderr.write(`${line}\n`);
      try {
        const hub = new HubClient(http, endpoint, Boolean(env.hfToken));
        const result = await pull(command, { hub, store, progress, log, retry: options.retry ?? DEFAULT_RETRY });
        const files = result.origin.files.length;
        io.stdout.write(
          `pulled ${command.repo}@${result.origin.huggingface.commit.slice(0, 7)} as ${result.name} version ${result.version} (${result.manifest.task}, ${files} files) in ${result.dir}\n`,
        );
      } finally {
        http.close();
      }
      return;
    }
    case 'list': {
      const models = await listModels(store, env.modelFilesDir);
      io.stdout.write(command.json ? `${JSON.stringify(models, null, 2)}\n` : formatTable(models));
      return;
    }
    case 'rm': {
      const removed = await store.remove(command.name, command.version);
      io.stdout.write(`removed ${command.name} version${removed.length > 1 ? 's' : ''} ${removed.join(', ')} from ${store.root}\n`);
      return;
    }
  }
}

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new CliError(`HF_ENDPOINT "${endpoint}" is not a URL`, ExitCode.Usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`HF_ENDPOINT "${endpoint}" is not an http(s) URL`, ExitCode.Usage);
  return endpoint.replace(/\/+$/, '');
}

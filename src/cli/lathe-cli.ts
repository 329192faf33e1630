import { resolve } from 'node:path';
import { LATHE_VERSION } from '../common/version.js';
import { type Command, parseCommand } from './args.js';
import { CliError, ExitCode } from './cli-error.js';
import type { RetryPolicy } from './file-download.js';
import { HttpClient } from './http-get.js';
import { HubClient } from './hub-client.js';
import { describeUpload, formatFiles, listFiles, uploadFile } from './files.command.js';
import { followJob } from './job-follow.js';
import { createJob, formatJobs, listJobs } from './jobs.command.js';
import { formatTable, listModels, mergeServed, type ServedModel } from './list.command.js';
import { ModelStore } from './model-store.js';
import { BarProgress, LineProgress, type Output } from './progress.js';
import { pull } from './pull.command.js';
import type { ServerCommand, ServerFlags } from './server-args.js';
import { ServerClient } from './server-client.js';

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
  /** LATHE_URL: a running server, for `models list`, `files` and `jobs`. */
  serverUrl?: string;
  /** LATHE_API_KEY: sent to that server as `Authorization: Bearer`. */
  apiKey?: string;
}

export interface CliIo {
  stdout: Output & { isTTY?: boolean; columns?: number };
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
    switch (command.kind) {
      case 'help':
        io.stdout.write(`${command.text}\n`);
        return ExitCode.Ok;
      case 'version':
        io.stdout.write(`lathe ${LATHE_VERSION}\n`);
        return ExitCode.Ok;
      case 'pull':
      case 'list':
      case 'rm':
        await execute(command, env, io, options);
        return ExitCode.Ok;
      default:
        return await executeOnServer(command, env, io);
    }
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

type LocalCommand = Extract<Command, { kind: 'pull' | 'list' | 'rm' }>;

async function execute(command: LocalCommand, env: CliEnv, io: CliIo, options: CliOptions): Promise<void> {
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
        const commit = `${command.repo}@${result.origin.huggingface.commit.slice(0, 7)}`;
        if (result.upToDate) {
          io.stdout.write(`${result.name} version ${result.version} is up to date with ${commit} (${command.revision}); nothing to pull\n`);
          return;
        }
        io.stdout.write(
          `pulled ${command.repo}@${result.origin.huggingface.commit.slice(0, 7)} as ${result.name} version ${result.version} (${result.manifest.task}, ${files} files) in ${result.dir}\n`,
        );
      } finally {
        http.close();
      }
      return;
    }
    case 'list': {
      const local = await listModels(store, env.modelFilesDir);
      const server = serverOf(command.server, env, false);
      const models = server ? mergeServed(local, (await server.json<{ data: ServedModel[] }>('GET', '/v1/models')).data) : local;
      if (!server) {
        io.stderr.write(
          `models in ${store.root}; fine-tuned models live in the server's database: set LATHE_URL (or --url) to list what a server serves\n`,
        );
      }
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

/** The server a command talks to; `required` makes a missing URL a usage error. */
function serverOf(flags: ServerFlags, env: CliEnv, required: true): ServerClient;
function serverOf(flags: ServerFlags, env: CliEnv, required: false): ServerClient | undefined;
function serverOf(flags: ServerFlags, env: CliEnv, required: boolean): ServerClient | undefined {
  const url = flags.url ?? env.serverUrl;
  if (!url) {
    if (required) throw new CliError('no server: set LATHE_URL or --url (e.g. http://127.0.0.1:3000)', ExitCode.Usage);
    return undefined;
  }
  return new ServerClient(url, flags.apiKey ?? env.apiKey);
}

async function executeOnServer(command: ServerCommand, env: CliEnv, io: CliIo): Promise<number> {
  const server = serverOf(command.server, env, true);
  const print = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  switch (command.kind) {
    case 'files-upload': {
      const file = await uploadFile(server, command.path, command.purpose);
      if (command.json) print(file);
      else io.stdout.write(describeUpload(file));
      return file.status === 'error' ? ExitCode.DataError : ExitCode.Ok;
    }
    case 'files-list': {
      const files = await listFiles(server, command.limit);
      io.stdout.write(command.json ? `${JSON.stringify(files, null, 2)}\n` : formatFiles(files));
      return ExitCode.Ok;
    }
    case 'jobs-create': {
      const job = await createJob(server, command, (line) => io.stderr.write(`${line}\n`));
      if (command.json) print(job);
      else io.stdout.write(`created ${job.id} (${job.status}): fine-tunes ${job.model}\n`);
      return command.follow ? followJob(server, job.id, io.stdout) : ExitCode.Ok;
    }
    case 'jobs-list': {
      const jobs = await listJobs(server, command.limit);
      io.stdout.write(command.json ? `${JSON.stringify(jobs, null, 2)}\n` : formatJobs(jobs));
      return ExitCode.Ok;
    }
    case 'jobs-follow':
      return followJob(server, command.id, io.stdout);
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

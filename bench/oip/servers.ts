/**
 * The two HTTP servers under test, each a child process: the plain Fastify route and the real
 * Lathe server (with its embedded PostgreSQL unless DATABASE_URL is set). Both stop by PID.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchModel } from './models.js';
import type { PlainModel } from './plain-server.js';

export interface RunningServer {
  port: number;
  /** The server's process id, for reading its threads' CPU times. */
  pid: number;
  /** Problems seen while stopping, and a summary of the server's own warnings and errors. */
  stop(): Promise<string[]>;
}

export const LATHE_LOG = join(tmpdir(), 'lathe-bench-oip.log');
const READY_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 30_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** SIGTERM, wait for the exit, SIGKILL after the deadline. */
async function stopChild(child: ChildProcess, what: string): Promise<string[]> {
  if (child.exitCode !== null || child.signalCode !== null) return [`${what} had already exited (${child.exitCode ?? child.signalCode})`];
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_DEADLINE_MS).then(() => true)]);
  if (!timedOut) return [];
  child.kill('SIGKILL');
  await exited;
  return [`${what} did not exit within ${STOP_DEADLINE_MS / 1000} s of SIGTERM; killed`];
}

export async function startPlain(script: string, models: BenchModel[]): Promise<RunningServer> {
  const args: PlainModel[] = models.map((m) => ({ name: m.name, key: m.key, path: m.path }));
  return startForked(script, args, 'plain server');
}

/** A server script forked with `arg` as JSON in argv[2], which sends { port } over IPC once listening. */
export async function startForked(script: string, arg: unknown, what: string): Promise<RunningServer> {
  const child = fork(script, [JSON.stringify(arg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`${what} exited with ${code}`))),
  ])) as [{ port: number }];
  return { port: message.port, pid: child.pid!, stop: () => stopChild(child, what) };
}

function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', () => resolve(0));
    request.setTimeout(2000, () => request.destroy());
  });
}

/** Lathe's cumulative inference and execution counts of a model (Triton statistics extension). */
export async function executionCounts(port: number, model: string): Promise<{ inferences: number; executions: number } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v2/models/${model}/stats`);
    const body = (await response.json()) as { model_stats?: Array<{ inference_count: number; execution_count: number }> };
    const stats = body.model_stats?.[0];
    return stats ? { inferences: stats.inference_count, executions: stats.execution_count } : undefined;
  } catch {
    return undefined;
  }
}

async function writeModelsDir(models: BenchModel[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lathe-bench-models-'));
  for (const model of models) {
    await mkdir(join(dir, model.name, '1'), { recursive: true });
    await writeFile(join(dir, model.name, '1', 'model.json'), JSON.stringify(model.manifest, null, 2));
  }
  return dir;
}

/** Warn/error lines of Lathe's JSON log (pino levels 40+), counted by message. */
function summariseLog(): string[] {
  const counts = new Map<string, number>();
  for (const line of readFileSync(LATHE_LOG, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let entry: { level?: number; msg?: string; err?: { message?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      entry = { level: 50, msg: line.slice(0, 200) };
    }
    if ((entry.level ?? 0) < 40) continue;
    const key = `level ${entry.level}: ${entry.msg ?? ''}${entry.err?.message ? ` (${entry.err.message})` : ''}`.slice(0, 240);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, count]) => `lathe log x${count}: ${key}`);
}

/** Lathe serving `models` from a temp repository, or as `overrides` say (e.g. the project's own models/). */
export async function startLathe(root: string, models: BenchModel[], overrides: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  const tempDirs = [await writeModelsDir(models)];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LATHE_MODELS_DIR: tempDirs[0],
    LATHE_MODELS_PRELOAD: '*',
    ...overrides,
  };
  let dataDir: string | undefined;
  if (!process.env.DATABASE_URL) {
    dataDir = await mkdtemp(join(tmpdir(), 'lathe-bench-data-'));
    await chmod(dataDir, 0o755); // the embedded PostgreSQL runs as the postgres user when we are root
    tempDirs.push(dataDir);
    Object.assign(env, { LATHE_DATA_DIR: dataDir, LATHE_EMBEDDED_PG_PORT: String(await freePort()) });
  }
  const log = createWriteStream(LATHE_LOG);
  // LATHE_BENCH_NODE_ARGS: extra node flags for the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env.LATHE_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, 'dist/src/main.js'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });

  const stop = async (): Promise<string[]> => {
    const problems = await stopChild(child, 'Lathe');
    log.end();
    await once(log, 'close');
    problems.push(...(await leftoverPostgres(dataDir)), ...summariseLog());
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
    return problems;
  };

  const deadline = Date.now() + READY_DEADLINE_MS;
  while ((await getStatus(port, '/health/ready')) !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null ? `exited with ${child.exitCode}` : `not ready within ${READY_DEADLINE_MS / 1000} s`;
      const problems = await stop();
      throw new Error(`Lathe ${why}; log ${LATHE_LOG}\n  ${problems.join('\n  ')}`);
    }
    await sleep(250);
  }
  return { port, pid: child.pid!, stop };
}

/** Lathe must stop its embedded PostgreSQL; if it did not, say so and stop that postmaster. */
async function leftoverPostgres(dataDir: string | undefined): Promise<string[]> {
  const pidFile = dataDir === undefined ? undefined : join(dataDir, 'postgres', 'postmaster.pid');
  if (pidFile === undefined || !existsSync(pidFile)) return [];
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline) || !readFileSync(cmdline, 'utf8').includes('postgres')) {
    return [`embedded PostgreSQL left a stale postmaster.pid (pid ${pid} is not a running postgres)`];
  }
  try {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 40 && existsSync(pidFile); i++) await sleep(250);
  } catch {
    return [`embedded PostgreSQL left a stale postmaster.pid (pid ${pid} not running)`];
  }
  return [`embedded PostgreSQL (pid ${pid}) was still running after Lathe exited; stopped it`];
}

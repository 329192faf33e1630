import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
// A failed assertion must not leave a server behind: whatever a test file started dies with it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs a Lathe process with exactly the given environment (plus PATH), capturing its output. */
export function spawnNode(script: string, env: Record<string, string>, args: string[] = []): Spawned {
  return spawnCommand(process.execPath, [script, ...args], env);
}

export function spawnCommand(command: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  running.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => out, exited };
}

/** SIGKILLs every process this file spawned that is still running (for `after` hooks). */
export function killSpawned(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * A temp dir that the postgres user can enter: mkdtemp makes 0700 dirs, and an embedded
 * PostgreSQL started as root runs as `postgres`.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

/**
 * Ports handed to servers that bind them later come from below Linux's ephemeral range (32768 and
 * up): a port the kernel picked for `listen(0)` is free again once closed, and another test's
 * `listen(0)` or an outgoing connection could take it before this test's server binds it; then the
 * test would talk to the other test's server. Nothing the kernel assigns comes from this range.
 */
const PORT_RANGE = { from: 20_000, to: 32_000 };
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${PORT_RANGE.from} and ${PORT_RANGE.to}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Polls until fn returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Resolves the response when GET url answers with the status. */
export function waitForStatus(url: string, status: number, timeoutMs: number): Promise<Response> {
  return waitFor(
    async () => {
      const res = await fetch(url);
      return res.status === status ? res : undefined;
    },
    timeoutMs,
    `${url} to answer ${status}`,
  );
}

/** PIDs of postgres processes whose command line names the data directory. */
export async function postgresPidsFor(dataDir: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('postgres') && cmdline.includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A Lathe process's own data dir, ports and environment (embedded PostgreSQL, no DATABASE_URL). */
export interface ServerSandbox {
  dataDir: string;
  env: Record<string, string>;
  /** http://127.0.0.1:<port> */
  base: string;
  /** Kills what the test spawned and the embedded PostgreSQL it left, and removes the data dir. */
  cleanup(): Promise<void>;
}

/** `ownTmpAndHome`: TMPDIR and HOME inside the data dir, to see what the process leaves in them. */
export async function serverSandbox(prefix: string, { logLevel = 'info', ownTmpAndHome = false } = {}): Promise<ServerSandbox> {
  const dataDir = await makeTempDir(prefix);
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    LATHE_DATA_DIR: dataDir,
    LATHE_EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: logLevel,
  };
  if (ownTmpAndHome) {
    env.TMPDIR = join(dataDir, 'tmp');
    env.HOME = join(dataDir, 'home');
    await mkdir(env.TMPDIR);
    await mkdir(env.HOME);
  }
  const cleanup = async () => {
    killSpawned();
    for (const pid of await postgresPidsFor(dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  };
  return { dataDir, env, base: `http://127.0.0.1:${port}`, cleanup };
}

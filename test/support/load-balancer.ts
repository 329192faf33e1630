import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, ROOT, type Spawned, spawnCommand, waitFor } from './processes.js';

/** The HAProxy configuration the README documents and compose.yaml mounts, used as it is. */
export const HAPROXY_CONFIG = join(ROOT, 'deploy/haproxy.cfg');
/** Debian installs it in /usr/sbin, which a non-root PATH may lack. */
const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

/**
 * Lathe's drain as the load-balancer test runs it and deploy/ sets it (compose.yaml, the
 * Kubernetes Deployment, the KServe runtime; test/deploy checks they agree): accept for 2 s after
 * SIGTERM, longer than HAProxy takes to mark a replica DOWN (inter 500 ms, then fastinter 250 ms:
 * 750 ms after its first 503), then up to 5 s for what is in flight. Then it closes: its pools, its
 * workers, and a training run that hands its job back to the queue; the platforms' grace periods
 * leave `closingMs` for that (up to 6.5 s was measured on a loaded 2-core machine).
 */
export const DRAIN = { delayMs: 2_000, graceMs: 5_000, closingMs: 12_000 };

/** One row of HAProxy's CSV statistics for a server of the `lathe` backend. */
export interface ServerStats {
  name: string;
  /** UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up), MAINT, no check. */
  status: string;
  /** Requests sent to it (HAProxy's stot). */
  sessions: number;
  /** Connection and L7 retries towards it, and requests sent elsewhere after failing on it. */
  retries: number;
  redispatches: number;
  /** Connection errors and responses that were aborted or never came. */
  connectionErrors: number;
  responseErrors: number;
}

export interface Balancer {
  /** http://127.0.0.1:<port>: where clients send requests. */
  base: string;
  process: Spawned;
  stats(): Promise<ServerStats[]>;
  /** Resolves once every listed server is UP (or the deadline passes). */
  waitUntilUp(names: string[], timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs Debian's HAProxy on 127.0.0.1 with deploy/haproxy.cfg, its addresses given through the
 * environment as the file documents. `replicas` are host:port, in server order (lathe-1, lathe-2).
 */
export async function startHaproxy(replicas: string[]): Promise<Balancer> {
  const { env, port, statsPort } = await haproxyEnv(replicas);
  // -db: stay in the foreground (a child of the test, stopped by its pid).
  const proc = spawnCommand(HAPROXY, ['-db', '-f', HAPROXY_CONFIG], env);
  const statsUrl = `http://127.0.0.1:${statsPort}/stats;csv`;
  const stats = async (): Promise<ServerStats[]> => parseStats(await (await fetch(statsUrl)).text());
  await waitFor(async () => (await stats()).length === replicas.length || undefined, 10_000, 'HAProxy statistics').catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  return {
    base: `http://127.0.0.1:${port}`,
    process: proc,
    stats,
    waitUntilUp: async (names, timeoutMs) => {
      await waitFor(
        async () => {
          const rows = await stats();
          return names.every((n) => rows.find((r) => r.name === n)?.status === 'UP') || undefined;
        },
        timeoutMs,
        `HAProxy to see ${names.join(', ')} UP`,
      );
    },
    stop: async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
}

function parseStats(csv: string): ServerStats[] {
  const [header, ...lines] = csv.trim().split('\n');
  const columns = header!.replace(/^# /, '').split(',');
  const at = (row: string[], name: string) => row[columns.indexOf(name)] ?? '';
  return lines
    .map((line) => line.split(','))
    .filter((row) => at(row, 'pxname') === 'lathe' && !['FRONTEND', 'BACKEND'].includes(at(row, 'svname')))
    .map((row) => ({
      name: at(row, 'svname'),
      status: at(row, 'status'),
      sessions: Number(at(row, 'stot')),
      retries: Number(at(row, 'wretr')),
      redispatches: Number(at(row, 'wredis')),
      connectionErrors: Number(at(row, 'econ')),
      responseErrors: Number(at(row, 'eresp')),
    }));
}

/** The environment deploy/haproxy.cfg reads, on free 127.0.0.1 ports. */
export async function haproxyEnv(replicas: string[]): Promise<{ env: Record<string, string>; port: number; statsPort: number }> {
  const port = await freePort();
  const statsPort = await freePort();
  const env: Record<string, string> = {
    LATHE_LB_BIND: `127.0.0.1:${port}`,
    LATHE_LB_STATS_BIND: `127.0.0.1:${statsPort}`,
  };
  replicas.forEach((address, i) => (env[`LATHE_REPLICA_${i + 1}`] = address));
  return { env, port, statsPort };
}

/** `haproxy -c`: HAProxy's own check of the configuration; resolves with its exit code and output. */
export async function checkHaproxyConfig(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const run = spawnCommand(HAPROXY, ['-c', '-f', HAPROXY_CONFIG], env);
  const { code } = await run.exited;
  return { code, output: run.output() };
}

/**
 * Which of the processes `pids` has the TCP connection whose local port is `port` (PostgreSQL's
 * `client_port` of a session): the sockets of /proc/net/tcp{,6} with that local port, found among
 * each process's open files.
 */
export async function processWithLocalPort(pids: number[], port: number): Promise<number | undefined> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns[1]?.endsWith(hex)) inodes.add(columns[9]!);
    }
  }
  for (const pid of pids) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
      const inode = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))?.[1];
      if (inode && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}

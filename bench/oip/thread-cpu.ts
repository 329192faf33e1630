/**
 * Where a request's CPU goes: each thread's CPU time from /proc/<pid>/task/<tid>/stat (Linux),
 * read when a cell's measured window opens and when it closes, divided by the requests completed
 * in it. The server's main thread (tid = pid) answers HTTP; its other threads are Lathe's session
 * workers, ONNX Runtime's threads and V8's helper threads (garbage collection), which share the
 * name "node" and are told apart here only from the main thread.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** /proc reports CPU time in USER_HZ ticks, 100 per second on every Linux architecture Node ships for. */
const MS_PER_TICK = 10;

interface CpuSnapshot {
  /** CPU ms per thread id of the server process; empty where /proc is not readable. */
  threads: Map<number, number>;
  /** This process's CPU (the load generator), in microseconds. */
  client: NodeJS.CpuUsage;
}

export interface CpuPerRequest {
  httpThreadMs: number;
  otherThreadsMs: number;
  loadGeneratorMs: number;
}

function threadTimes(pid: number): Map<number, number> {
  const times = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return times;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the ")" that closes the thread's name: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      times.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return times;
}

function snapshot(pid: number): CpuSnapshot {
  return { threads: threadTimes(pid), client: process.cpuUsage() };
}

/**
 * runLoad's window callbacks that read the server's and this process's CPU times, and the split
 * per completed request once the window has closed (undefined without /proc or requests).
 */
export function cpuWindow(pid: number): {
  window: { opened(): void; closed(): void };
  perRequest(requests: number): CpuPerRequest | undefined;
} {
  let before: CpuSnapshot | undefined;
  let after: CpuSnapshot | undefined;
  return {
    window: { opened: () => (before = snapshot(pid)), closed: () => (after = snapshot(pid)) },
    perRequest: (requests) => (before && after ? split(pid, before, after, requests) : undefined),
  };
}

function split(pid: number, before: CpuSnapshot, after: CpuSnapshot, requests: number): CpuPerRequest | undefined {
  if (requests === 0 || after.threads.size === 0) return undefined;
  let http = 0;
  let other = 0;
  for (const [tid, ms] of after.threads) {
    const used = ms - (before.threads.get(tid) ?? 0);
    if (tid === pid) http += used;
    else other += used;
  }
  const clientUs = after.client.user + after.client.system - before.client.user - before.client.system;
  return { httpThreadMs: http / requests, otherThreadsMs: other / requests, loadGeneratorMs: clientUs / 1000 / requests };
}

/**
 * Liveness under the heaviest JSON inference: 64 connections POST MobileNetV2-sized FP32 tensors
 * ([1,3,224,224], about 1.4 MB of JSON `data` each) to /v2/models/mobilenetv2/infer while a
 * separate thread probes GET /health/live every 20 ms. Target: the probe's p99 under 100 ms (a
 * 1 s liveness timeout must never restart a busy pod; before the JSON workers it was p50 1 s).
 *
 * Usage (after `npx tsc -p tsconfig.json` at the repo root):
 *   node dist/bench/health/run.js [--duration 10] [--concurrency 64] [--inline]
 *
 * --inline parses every body on the HTTP thread (LATHE_OIP_JSON_OFFTHREAD_BYTES at its maximum),
 * to see what the JSON workers change. Needs /work/shared/models/mobilenetv2-12-int8.onnx (or
 * LATHE_MODEL_FILES_DIR naming the folder holding it). Prints PASS/FAIL but always exits 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { randomFloats } from '../oip/feeds.js';
import { runLoad } from '../oip/load.js';
import { percentile } from '../oip/report.js';
import { LATHE_LOG, startLathe } from '../oip/servers.js';
import { cpuWindow } from '../oip/thread-cpu.js';
import { repoRoot } from '../oip/root.js';

disableOnnxRuntimeTelemetry();

const TARGET_P99_MS = 100;
const PROBE_INTERVAL_MS = 20;
const PROBE_TIMEOUT_MS = 5000;
const WARMUP_MS = 1000;
const MODEL = 'mobilenetv2';
const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function parseArgs(argv: string[]): { durationMs: number; concurrency: number; inline: boolean } {
  const out = { durationMs: 10_000, concurrency: 64, inline: false };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--duration' && value > 0 && value <= 120) out.durationMs = value * 1000;
    else if (argv[i] === '--concurrency' && Number.isInteger(value) && value > 0 && value <= 1024) out.concurrency = value;
    else if (argv[i] === '--inline') {
      out.inline = true;
      continue;
    } else throw new Error(`usage: node dist/bench/health/run.js [--duration 10] [--concurrency 64] [--inline] (bad argument ${argv[i]})`);
    i++;
  }
  return out;
}

/** One [1,3,224,224] image as OIP JSON; six decimals, as a client's JSON encoder typically writes them. */
function jsonBody(): Buffer {
  const image = randomFloats(3 * 224 * 224, 2, 1);
  const data = Array.from(image, (x) => Number(x.toFixed(6)));
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224], data }] }));
}

function probeFor(port: number, durationMs: number): Promise<number[]> {
  const worker = new Worker(new URL('./probe.worker.js', import.meta.url), {
    workerData: { port, intervalMs: PROBE_INTERVAL_MS, durationMs, timeoutMs: PROBE_TIMEOUT_MS },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/**
 * Lathe's own event-loop delay (prom-client's nodejs_eventloop_lag_*, reset at each scrape): read
 * once to reset, once after the window. A slow probe with a calm loop was the machine, not Lathe.
 */
async function eventLoopLag(port: number): Promise<{ p99: number; max: number } | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1]) * 1000;
    return { p99: value('nodejs_eventloop_lag_p99_seconds'), max: value('nodejs_eventloop_lag_max_seconds') };
  } catch {
    return undefined;
  }
}

/** Linux schedstat of the HTTP thread (its tid is the pid): ms on a core, ms runnable but waiting for one. */
function schedstat(pid: number): { runMs: number; waitMs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { runMs: run! / 1e6, waitMs: wait! / 1e6 };
  } catch {
    return undefined;
  }
}

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'failed');

async function main(): Promise<void> {
  const { durationMs, concurrency, inline } = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const filesDir = process.env.LATHE_MODEL_FILES_DIR || '/work/shared/models';
  if (!existsSync(join(filesDir, 'mobilenetv2-12-int8.onnx'))) {
    log(`skipped: ${join(filesDir, 'mobilenetv2-12-int8.onnx')} is missing`);
    return;
  }
  const body = jsonBody();
  log(
    `body ${(body.length / 1e6).toFixed(2)} MB of JSON; ${concurrency} connections for ${durationMs / 1000} s after ${WARMUP_MS / 1000} s warm-up; JSON parsed ${inline ? 'inline' : 'by the JSON workers'}`,
  );
  const lathe = await startLathe(root, [], {
    LATHE_MODELS_DIR: join(root, 'models'),
    LATHE_MODEL_FILES_DIR: filesDir,
    LATHE_MODELS_PRELOAD: MODEL,
    ...(inline ? { LATHE_OIP_JSON_OFFTHREAD_BYTES: String(2 ** 31 - 1) } : {}),
  });
  const problems: string[] = [];
  try {
    const idle = await probeFor(lathe.port, 1000);
    const target = { port: lathe.port, path: `/v2/models/${MODEL}/infer`, body, headers: { 'content-type': 'application/json' } };
    // The probe covers the measured window only, not the warm-up.
    const cpu = cpuWindow(lathe.pid);
    let lag: Promise<{ p99: number; max: number } | undefined> = Promise.resolve(undefined);
    setTimeout(() => void eventLoopLag(lathe.port), WARMUP_MS);
    setTimeout(() => (lag = eventLoopLag(lathe.port)), WARMUP_MS + durationMs);
    const sched: Array<ReturnType<typeof schedstat>> = [];
    const window = {
      opened: () => (cpu.window.opened(), sched.push(schedstat(lathe.pid))),
      closed: () => (cpu.window.closed(), sched.push(schedstat(lathe.pid))),
    };
    const [load, probes] = await Promise.all([
      runLoad(target, { concurrency, warmupMs: WARMUP_MS, durationMs, window }),
      new Promise<number[]>((resolve, reject) => setTimeout(() => probeFor(lathe.port, durationMs).then(resolve, reject), WARMUP_MS)),
    ]);
    const loop = await lag;
    const failed = probes.filter((p) => !Number.isFinite(p)).length;
    const slow = probes.filter((p) => p >= TARGET_P99_MS).length;
    // Whole-window CPU of Lathe's threads: is the HTTP thread saturated?
    const busy = cpu.perRequest(1);
    const p99 = percentile(probes, 0.99);
    console.log(
      `\n/health/live under ${concurrency} connections of JSON inference (${(body.length / 1e6).toFixed(2)} MB bodies, ${inline ? 'inline parse' : 'JSON workers'})`,
    );
    console.log(`  idle probe:   p50 ${ms(percentile(idle, 0.5))}, max ${ms(Math.max(...idle))} (${idle.length} probes)`);
    console.log(
      `  loaded probe: p50 ${ms(percentile(probes, 0.5))}, p90 ${ms(percentile(probes, 0.9))}, p99 ${ms(p99)}, max ${ms(Math.max(...probes))} ` +
        `(${probes.length} probes, ${slow} at ${TARGET_P99_MS} ms or more, ${failed} failed after ${PROBE_TIMEOUT_MS / 1000} s)`,
    );
    const latency =
      load.latenciesMs.length > 0 ? `p50 ${ms(percentile(load.latenciesMs, 0.5))}` : 'no request both started and ended in the window';
    console.log(`  load: ${load.requestsPerS.toFixed(1)} requests/s, ${latency}, ${load.networkErrors} network errors`);
    if (loop) console.log(`  Lathe's event-loop delay over the window: p99 ${ms(loop.p99)}, max ${ms(loop.max)}`);
    const [s0, s1] = sched;
    if (s0 && s1) {
      console.log(
        `  Lathe's HTTP thread over the window: ran ${ms(s1.runMs - s0.runMs)}, runnable but waiting for a core ${ms(s1.waitMs - s0.waitMs)}`,
      );
    }
    if (busy) {
      const share = (v: number) => `${((100 * v) / durationMs).toFixed(0)}%`;
      console.log(
        `  CPU over the window: HTTP thread ${share(busy.httpThreadMs)} of a core, other threads ${share(busy.otherThreadsMs)}, bench process (load and probe) ${share(busy.loadGeneratorMs)}`,
      );
    }
    for (const [status, f] of load.failures) console.log(`  load: ${f.count} x HTTP ${status}: ${f.sample}`);
    console.log(
      `  verdict: p99 ${ms(p99)} ${p99 < TARGET_P99_MS ? '<' : '>='} ${TARGET_P99_MS} ms: ${p99 < TARGET_P99_MS && failed === 0 ? 'PASS' : 'FAIL'}`,
    );
  } finally {
    problems.push(...(await lathe.stop()));
  }
  for (const p of problems) log(p);
  log(`Lathe's log: ${LATHE_LOG}`);
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});

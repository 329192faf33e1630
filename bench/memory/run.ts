/**
 * Does memory come back? Starts Lathe (dist/src/main.js, embedded PostgreSQL in a temp dir), loads
 * one model and records the server's RSS, sends the hostile corpus (corpus.ts), unloads every model,
 * waits until RSS stops moving and records it again: the ratio is judged against 1.3.
 *
 *   npx tsc -p tsconfig.json
 *   node dist/bench/memory/run.js [--env NAME=value]... [--image-side 5000] [--audio-seconds 300] [--idle-seconds 20]
 *
 * `--env` sets a variable in Lathe's environment only (MALLOC_ARENA_MAX=2, ...);
 * LATHE_BENCH_NODE_ARGS passes node flags as for the other benchmarks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLathe } from '../oip/servers.js';
import { buildCorpus, runPhase } from './corpus.js';

const TARGET = 1.3;
const FIRST_MODEL = 'mobilenetv2';
const OTHER_MODELS = ['silero-vad'];
const SHARED_MODELS = '/work/shared/models';
const BODY_LIMIT = 64 * 1024 * 1024;

interface Memory {
  rssMb: number;
  anonMb: number;
  fileMb: number;
  threads: number;
}

function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024, threads: kb('Threads') };
}

const show = (m: Memory) => `RSS ${m.rssMb.toFixed(0)} MB (anon ${m.anonMb.toFixed(0)}, file ${m.fileMb.toFixed(0)}), ${m.threads} threads`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function postJson(port: number, path: string, body: unknown = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

async function load(port: number, model: string): Promise<void> {
  const answer = await postJson(port, `/v2/repository/models/${model}/load`);
  if (answer.status !== 200) throw new Error(`loading ${model} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** Unloads every model the repository index reports as READY; returns their names. */
async function unloadAll(port: number): Promise<string[]> {
  const index = (await postJson(port, '/v2/repository/index')).body as Array<{ name: string; state: string }>;
  const ready = [...new Set(index.filter((m) => m.state === 'READY').map((m) => m.name))];
  for (const name of ready) {
    const answer = await postJson(port, `/v2/repository/models/${name}/unload`);
    if (answer.status !== 200) throw new Error(`unloading ${name} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return ready;
}

/** The main thread's V8 heap and external memory, from the server's own /metrics (prom-client's defaults). */
async function heapOf(port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const mb = (name: string) => (Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1e6).toFixed(0);
  return `main-thread V8 heap ${mb('nodejs_heap_size_used_bytes')} of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB`;
}

/**
 * Waits `minSeconds` (allocators return freed memory on a timer: jemalloc's decay is 10 s), then
 * samples RSS each second until the last five samples lie within 2% of each other, or 30 s more.
 */
async function settle(pid: number, minSeconds: number): Promise<{ memory: Memory; waited: number }> {
  const started = Date.now();
  await sleep(minSeconds * 1000);
  const samples: number[] = [];
  for (;;) {
    samples.push(memoryOf(pid).rssMb);
    const last = samples.slice(-5);
    const waited = (Date.now() - started) / 1000;
    if ((last.length === 5 && Math.max(...last) <= Math.min(...last) * 1.02) || waited >= minSeconds + 30)
      return { memory: memoryOf(pid), waited };
    await sleep(1000);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      env: { type: 'string', multiple: true },
      'image-side': { type: 'string', default: '5000' },
      'audio-seconds': { type: 'string', default: '300' },
      'idle-seconds': { type: 'string', default: '20' },
      smaps: { type: 'string' },
    },
  });
  const extraEnv = Object.fromEntries((values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
  const corpus = await buildCorpus({
    bodyLimitBytes: BODY_LIMIT,
    imageSide: Number(values['image-side']),
    audioSeconds: Number(values['audio-seconds']),
  });
  console.log(`Lathe environment: ${JSON.stringify(extraEnv)}; node args: ${process.env.LATHE_BENCH_NODE_ARGS ?? ''}`);
  console.log(`corpus: ${corpus.described.join('; ')}`);

  const server = await startLathe(root, [], {
    LATHE_MODELS_DIR: join(root, 'models'),
    LATHE_MODEL_FILES_DIR: SHARED_MODELS,
    LATHE_MODELS_PRELOAD: '',
    LATHE_BODY_LIMIT_BYTES: String(BODY_LIMIT),
    ...extraEnv,
  });
  const problems: string[] = [];
  try {
    const boot = (await settle(server.pid, 0)).memory;
    console.log(`booted:                 ${show(boot)}; ${await heapOf(server.port)}`);
    await load(server.port, FIRST_MODEL);
    const first = (await settle(server.pid, 0)).memory;
    console.log(`after loading ${FIRST_MODEL}: ${show(first)}; ${await heapOf(server.port)}`);
    for (const model of OTHER_MODELS) await load(server.port, model);
    let peak = memoryOf(server.pid).rssMb;
    const sampler = setInterval(() => void (peak = Math.max(peak, memoryOf(server.pid).rssMb)), 200);
    const started = performance.now();
    try {
      for (const phase of corpus.phases) {
        const result = await runPhase(phase, server.port);
        const statuses = Object.entries(result.statuses)
          .map(([s, n]) => `${s} x${n}`)
          .join(', ');
        console.log(
          `  ${result.name}: ${phase.count} requests, ${phase.concurrency} at once, ${result.seconds.toFixed(1)} s: ${statuses}; ${show(memoryOf(server.pid))}`,
        );
      }
    } finally {
      clearInterval(sampler);
    }
    console.log(`corpus took ${((performance.now() - started) / 1000).toFixed(0)} s; peak RSS ${peak.toFixed(0)} MB`);
    const unloaded = await unloadAll(server.port);
    const { memory: after, waited } = await settle(server.pid, Number(values['idle-seconds']));
    console.log(`after unloading ${unloaded.join(', ')} and ${waited.toFixed(0)} s idle: ${show(after)}; ${await heapOf(server.port)}`);
    if (values.smaps) writeFileSync(values.smaps, readFileSync(`/proc/${server.pid}/smaps`));
    const ratio = after.rssMb / first.rssMb;
    console.log(
      `RSS after / RSS after the first load = ${after.rssMb.toFixed(0)} / ${first.rssMb.toFixed(0)} = ${ratio.toFixed(3)}: ${ratio <= TARGET ? 'PASS' : 'FAIL'} (target <= ${TARGET})`,
    );
  } finally {
    problems.push(...(await server.stop()));
  }
  for (const problem of problems) console.log(`note: ${problem}`);
}

await main();

/**
 * Two builds of Lathe side by side: each build's HTTP-thread CPU per request for
 * `POST /v1/embeddings` (one input, concurrency 16), with the NestJS floor of `run.ts` as the
 * reference, measured in short windows taken in turn. On a shared machine the speed of the cores
 * drifts by tens of percent within a minute, so two runs of `run.ts` minutes apart cannot tell a
 * 10 % change from the drift; windows in turn put every server on the same stretches.
 *
 * Usage (after `npx tsc -p tsconfig.json` and `npm run models:prepare` in both checkouts):
 *   node dist/bench/embeddings/interleave.js --before /path/to/other/checkout [--model glove-100d] [--windows 10]
 * `--before` is a checkout (its own `dist/` and `node_modules/`) of the build to compare with this
 * one; both serve this checkout's `models/`. Prints a table; exits 0 whatever the numbers.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from '../oip/load.js';
import { type RunningServer, startForked, startLathe } from '../oip/servers.js';
import { cpuWindow } from '../oip/thread-cpu.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const flagValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const BEFORE = flagValue('--before');
const MODEL = flagValue('--model') ?? 'glove-100d';
const WINDOWS = Number(flagValue('--windows') ?? 10);
const WINDOW_MS = 1500;
const CONCURRENCY = 16;
const WIDTHS = { 'glove-100d': 100, 'bert-mini': 32 };

interface Totals {
  requests: number;
  httpThreadMs: number;
  otherThreadsMs: number;
  failures: number;
  perWindowUs: number[];
}

async function main(): Promise<void> {
  if (!BEFORE || !existsSync(join(BEFORE, 'dist/src/main.js'))) {
    console.log('usage: interleave.js --before CHECKOUT (a checkout with its own dist/ built)');
    return;
  }
  if (!(MODEL in WIDTHS) || !existsSync(join(ROOT, 'models', MODEL))) {
    console.log(`skipped: ${MODEL} is not one of ${Object.keys(WIDTHS).join(', ')} in ${join(ROOT, 'models')}`);
    return;
  }
  const body = Buffer.from(
    JSON.stringify({ model: MODEL, input: ['the quick brown fox jumps over the lazy dog'], encoding_format: 'base64' }),
  );
  const target = (port: number) => ({ port, path: '/v1/embeddings', body, headers: { 'content-type': 'application/json' } });
  const servers = new Map<string, RunningServer>();
  const env = { LATHE_MODELS_DIR: join(ROOT, 'models'), LATHE_MODELS_PRELOAD: MODEL };
  try {
    const floorScript = fileURLToPath(new URL('./floor-server.js', import.meta.url));
    servers.set('NestJS floor', await startForked(floorScript, { stack: 'nest', widths: WIDTHS }, 'nest floor server'));
    servers.set('before', await startLathe(resolve(BEFORE), [], env));
    servers.set('this build', await startLathe(ROOT, [], env));
    for (const server of servers.values())
      await runLoad(target(server.port), { concurrency: CONCURRENCY, warmupMs: 2000, durationMs: 1000 });
    const totals = new Map<string, Totals>();
    for (let w = 0; w < WINDOWS; w++) {
      for (const [name, server] of servers) {
        const cpu = cpuWindow(server.pid);
        const result = await runLoad(target(server.port), {
          concurrency: CONCURRENCY,
          warmupMs: 200,
          durationMs: WINDOW_MS,
          window: cpu.window,
        });
        const perRequest = cpu.perRequest(result.completed);
        if (!perRequest) throw new Error(`${name}: no request completed in window ${w + 1}, or no /proc`);
        let t = totals.get(name);
        if (!t) totals.set(name, (t = { requests: 0, httpThreadMs: 0, otherThreadsMs: 0, failures: 0, perWindowUs: [] }));
        t.requests += result.completed;
        t.httpThreadMs += perRequest.httpThreadMs * result.completed;
        t.otherThreadsMs += perRequest.otherThreadsMs * result.completed;
        t.failures += [...result.failures.values()].reduce((n, f) => n + f.count, 0) + result.networkErrors;
        t.perWindowUs.push(perRequest.httpThreadMs * 1000);
      }
    }
    const floor = totals.get('NestJS floor')!;
    const floorUs = (floor.httpThreadMs / floor.requests) * 1000;
    console.log(
      `bench/embeddings/interleave: ${MODEL}, 1 input, concurrency ${CONCURRENCY}, ${WINDOWS} windows of ${WINDOW_MS / 1000} s each in turn\n`,
    );
    console.log(
      '| server | requests | HTTP-thread µs/request | / NestJS floor | other threads µs/request | HTTP-thread µs per window | failed |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const [name, t] of totals) {
      const us = (t.httpThreadMs / t.requests) * 1000;
      console.log(
        `| ${name} | ${t.requests} | ${us.toFixed(1)} | ${(us / floorUs).toFixed(2)} | ${((t.otherThreadsMs / t.requests) * 1000).toFixed(1)} | ${t.perWindowUs.map((x) => x.toFixed(0)).join(', ')} | ${t.failures} |`,
      );
    }
  } finally {
    for (const server of servers.values()) for (const p of await server.stop()) if (!p.includes('NO API KEYS')) console.log(`note: ${p}`);
  }
}

await main();

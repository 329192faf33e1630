/**
 * OIP throughput benchmark (acceptance point 8 of the runtime issue): Lathe against the machine's
 * limit (raw onnxruntime-node in worker threads) and against a plain Fastify route, all in one run.
 *
 * Usage (after `npx tsc -p tsconfig.json` at the repo root; no npm script):
 *   node dist/bench/oip/run.js [--duration 8] [--rounds 3] [--only silero|mobilenet]
 *
 * --duration: seconds measured per cell, after a 1 s warm-up (default 8).
 * --rounds: rounds of limit, plain, Lathe and the HTTP floor back to back at the target concurrency (default 3);
 *   the targets are judged on the median of the rounds' ratios.
 * Uses DATABASE_URL when set; otherwise Lathe starts its embedded PostgreSQL in a temp dir.
 * Prints PASS/FAIL per target but always exits 0: it is a benchmark, not a test.
 */
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ModelKey } from './feeds.js';
import { type LimitCell, LimitPool } from './limit.js';
import { runLoad } from './load.js';
import { loadModels, verifier, type BenchModel } from './models.js';
import { bestLimit, CONCURRENCIES, percentile, printModel, TARGET_CONCURRENCY, type HttpCell, type ModelResults } from './report.js';
import { executionCounts, LATHE_LOG, startLathe, startPlain, type RunningServer } from './servers.js';
import { cpuWindow } from './thread-cpu.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { repoRoot } from './root.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

const WARMUP_MS = 1000;

function parseArgs(argv: string[]): { durationMs: number; rounds: number; only?: ModelKey } {
  let durationMs = 8000;
  let rounds = 3;
  let only: ModelKey | undefined;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--duration' && value !== undefined && Number(value) > 0) {
      durationMs = Number(value) * 1000;
      i++;
    } else if (argv[i] === '--rounds' && value !== undefined && Number.isInteger(Number(value)) && Number(value) > 0) {
      rounds = Number(value);
      i++;
    } else if (argv[i] === '--only' && (value === 'silero' || value === 'mobilenet')) {
      only = value;
      i++;
    } else {
      throw new Error(`usage: node dist/bench/oip/run.js [--duration 8] [--rounds 3] [--only silero|mobilenet] (bad argument ${argv[i]})`);
    }
  }
  return { durationMs, rounds, only };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

type Setup = 'plain' | 'lathe' | 'floor';

async function measureCell(
  setup: Setup,
  server: RunningServer,
  model: BenchModel,
  concurrency: number,
  durationMs: number,
): Promise<HttpCell> {
  // The floor runs on the plain server and answers filler values: nothing to verify.
  const path = setup === 'floor' ? `/floor/${model.name}` : `/v2/models/${model.name}/infer`;
  const target = { port: server.port, path, body: model.body, headers: model.headers };
  const before = setup === 'lathe' ? await executionCounts(server.port, model.name) : undefined;
  const cpu = cpuWindow(server.pid);
  const verify = setup === 'floor' ? undefined : verifier(model);
  const result = await runLoad(target, { concurrency, warmupMs: WARMUP_MS, durationMs, verify, window: cpu.window });
  const after = before && (await executionCounts(server.port, model.name));
  // Triton's inference_count counts batch rows: for both models a row is an item.
  const avgBatch = before && after ? (after.inferences - before.inferences) / (after.executions - before.executions) : undefined;
  const nonOk = [...result.failures.values()].reduce((a, f) => a + f.count, 0);
  log(
    `${setup} ${model.key} c=${concurrency}: ${result.requestsPerS.toFixed(1)} req/s, p50 ${percentile(result.latenciesMs, 0.5).toFixed(2)} ms, ${nonOk} non-200, ${result.networkErrors} network errors, ${result.bad} wrong`,
  );
  return { concurrency, result, avgBatch, cpu: cpu.perRequest(result.completed) };
}

/** One HTTP cell, or undefined (and the setup marked failed) when it cannot be measured. */
async function httpCell(
  setup: Setup,
  server: RunningServer | undefined,
  r: ModelResults,
  concurrency: number,
  durationMs: number,
): Promise<HttpCell | undefined> {
  const run = r[setup];
  if (!server || run.error) return undefined;
  try {
    return await measureCell(setup, server, r.model, concurrency, durationMs);
  } catch (err) {
    run.error = message(err);
    return undefined;
  }
}

async function startServer(
  setup: 'plain' | 'lathe',
  start: () => Promise<RunningServer>,
  results: ModelResults[],
  problems: string[],
): Promise<RunningServer | undefined> {
  try {
    return await start();
  } catch (err) {
    for (const r of results) r[setup] = { cells: [], error: message(err) };
    problems.push(`${setup} failed to start: ${message(err)}`);
    return undefined;
  }
}

/**
 * Concurrency 1 and 8 once each; then `rounds` rounds at the target concurrency, each measuring
 * the limit at its best batch, the plain route, Lathe and the HTTP floor back to back, so that a
 * slow stretch of a shared machine lands on every setup of a round instead of on one of the run.
 */
async function measureModel(
  r: ModelResults,
  pool: LimitPool | undefined,
  servers: Record<'plain' | 'lathe', RunningServer | undefined>,
  durationMs: number,
  rounds: number,
): Promise<void> {
  for (const concurrency of CONCURRENCIES.filter((c) => c !== TARGET_CONCURRENCY)) {
    for (const setup of ['plain', 'lathe'] as const) {
      const cell = await httpCell(setup, servers[setup], r, concurrency, durationMs);
      if (cell) r[setup].cells.push(cell);
    }
  }
  const best = bestLimit(r.limit.cells);
  for (let i = 0; i < rounds; i++) {
    let limit: LimitCell | undefined;
    if (pool && best) {
      // The sweep's own measurement of the best batch is round 1's limit.
      limit = i === 0 ? best : await pool.measure(best.batch, { warmupMs: WARMUP_MS, durationMs });
      if (i > 0) log(`limit ${r.model.key} B=${best.batch}, round ${i + 1}: ${limit.itemsPerS.toFixed(1)} items/s`);
    }
    const plain = await httpCell('plain', servers.plain, r, TARGET_CONCURRENCY, durationMs);
    const lathe = await httpCell('lathe', servers.lathe, r, TARGET_CONCURRENCY, durationMs);
    const floor = await httpCell('floor', servers.plain, r, TARGET_CONCURRENCY, durationMs);
    // The table's target column shows round 1; the ratios use every round.
    if (i === 0 && plain) r.plain.cells.push(plain);
    if (i === 0 && lathe) r.lathe.cells.push(lathe);
    if (i === 0 && floor) r.floor.cells.push(floor);
    r.rounds.push({ limitItemsPerS: limit?.itemsPerS ?? NaN, limitCpuUsPerItem: limit?.cpuUsPerItem ?? NaN, plain, lathe, floor });
  }
}

async function main(): Promise<void> {
  const { durationMs, rounds, only } = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const workers = availableParallelism();
  console.log(
    `OIP benchmark: node ${process.version}, ${workers} cores (${cpus()[0]?.model ?? '?'}), ` +
      `${WARMUP_MS / 1000} s warm-up + ${durationMs / 1000} s per cell, ${rounds} rounds at concurrency ${TARGET_CONCURRENCY}, ` +
      'load generator in this process (keep-alive sockets, pre-serialised requests)',
  );
  const { models, skipped } = await loadModels(root, only);
  for (const line of skipped) console.log(line);
  const results: ModelResults[] = models.map((model) => ({
    model,
    limit: { cells: [] },
    plain: { cells: [] },
    lathe: { cells: [] },
    floor: { cells: [] },
    rounds: [],
  }));

  const pools = new Map<ModelResults, LimitPool>();
  const problems: string[] = [];
  let servers: Record<'plain' | 'lathe', RunningServer | undefined> = { plain: undefined, lathe: undefined };
  try {
    for (const r of results) {
      try {
        const pool = await LimitPool.open(r.model.key, r.model.path, workers);
        pools.set(r, pool);
        for (const batch of r.model.limitBatches) {
          const cell = await pool.measure(batch, { warmupMs: WARMUP_MS, durationMs });
          log(`limit ${r.model.key} B=${batch}: ${cell.itemsPerS.toFixed(1)} items/s`);
          r.limit.cells.push(cell);
        }
      } catch (err) {
        r.limit = { cells: [], error: message(err) };
      }
    }
    // Both servers stay up for the whole run (an idle one costs nothing), so rounds can alternate.
    const plainScript = fileURLToPath(new URL('./plain-server.js', import.meta.url));
    servers = {
      plain: await startServer('plain', () => startPlain(plainScript, models), results, problems),
      lathe: await startServer(
        'lathe',
        () => {
          log('starting Lathe');
          return startLathe(root, models);
        },
        results,
        problems,
      ),
    };
    for (const r of results) await measureModel(r, pools.get(r), servers, durationMs, rounds);
  } finally {
    for (const setup of ['plain', 'lathe'] as const) {
      for (const p of (await servers[setup]?.stop()) ?? []) problems.push(`${setup}: ${p}`);
    }
    await Promise.all([...pools.values()].map((pool) => pool.close()));
  }

  for (const r of results) printModel(r);
  console.log(`\nserver problems and Lathe warnings/errors (full Lathe log: ${LATHE_LOG}):`);
  for (const line of problems.length > 0 ? problems : ['  none']) console.log(`  ${line}`);
}

main()
  .catch((err: unknown) => console.log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
  .finally(() => {
    process.exitCode = 0;
  });

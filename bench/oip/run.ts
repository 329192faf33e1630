/**
 * OIP throughput benchmark (acceptance point 8 of the runtime issue): Lathe against the machine's
 * limit (raw onnxruntime-node in worker threads) and against a plain Fastify route, all in one run.
 *
 * Usage (after `npx tsc -p tsconfig.json` at the repo root; no npm script):
 *   node dist/bench/oip/run.js [--duration 8] [--only silero|mobilenet]
 *
 * --duration: seconds measured per cell, after a 1 s warm-up (default 8).
 * Uses DATABASE_URL when set; otherwise Lathe starts its embedded PostgreSQL in a temp dir.
 * Prints PASS/FAIL per target but always exits 0: it is a benchmark, not a test.
 */
import { availableParallelism, cpus } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelKey } from './feeds.js';
import { measureLimit } from './limit.js';
import { runLoad } from './load.js';
import { loadModels, verifier, type BenchModel } from './models.js';
import { CONCURRENCIES, percentile, printModel, type HttpCell, type ModelResults, type SetupRun } from './report.js';
import { executionCounts, LATHE_LOG, startLathe, startPlain, type RunningServer } from './servers.js';
import { cpuWindow } from './thread-cpu.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

const WARMUP_MS = 1000;

function parseArgs(argv: string[]): { durationMs: number; only?: ModelKey } {
  let durationMs = 8000;
  let only: ModelKey | undefined;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--duration' && value !== undefined && Number(value) > 0) {
      durationMs = Number(value) * 1000;
      i++;
    } else if (argv[i] === '--only' && (value === 'silero' || value === 'mobilenet')) {
      only = value;
      i++;
    } else {
      throw new Error(`usage: node dist/bench/oip/run.js [--duration 8] [--only silero|mobilenet] (bad argument ${argv[i]})`);
    }
  }
  return { durationMs, only };
}

/** The repo root: the nearest directory above this file whose package.json is Lathe's. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dirname(dir) !== dir) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lathe') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the lathe repo root above ' + fileURLToPath(import.meta.url));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function measureHttp(setup: string, server: RunningServer, model: BenchModel, durationMs: number): Promise<SetupRun<HttpCell>> {
  const cells: HttpCell[] = [];
  const target = { port: server.port, path: `/v2/models/${model.name}/infer`, body: model.body, headers: model.headers };
  for (const concurrency of CONCURRENCIES) {
    const before = setup === 'lathe' ? await executionCounts(server.port, model.name) : undefined;
    const cpu = cpuWindow(server.pid);
    const result = await runLoad(target, { concurrency, warmupMs: WARMUP_MS, durationMs, verify: verifier(model), window: cpu.window });
    const after = before && (await executionCounts(server.port, model.name));
    // Triton's inference_count counts batch rows: for both models a row is an item.
    const avgBatch = before && after ? (after.inferences - before.inferences) / (after.executions - before.executions) : undefined;
    cells.push({ concurrency, result, avgBatch, cpu: cpu.perRequest(result.completed) });
    const nonOk = [...result.failures.values()].reduce((a, f) => a + f.count, 0);
    log(`${setup} ${model.key} c=${concurrency}: ${result.requestsPerS.toFixed(1)} req/s, p50 ${percentile(result.latenciesMs, 0.5).toFixed(2)} ms, ${nonOk} non-200, ${result.networkErrors} network errors, ${result.bad} wrong`);
  }
  return { cells };
}

/** Start a server, measure every model on it, stop it; a failure marks every model's row. */
async function measureServer(
  setup: 'plain' | 'lathe',
  start: () => Promise<RunningServer>,
  results: ModelResults[],
  durationMs: number,
): Promise<string[]> {
  let server: RunningServer;
  try {
    server = await start();
  } catch (err) {
    for (const r of results) r[setup] = { cells: [], error: message(err) };
    return [`${setup} failed to start: ${message(err)}`];
  }
  for (const r of results) {
    try {
      r[setup] = await measureHttp(setup, server, r.model, durationMs);
    } catch (err) {
      r[setup] = { cells: [], error: message(err) };
    }
  }
  const problems = await server.stop();
  return problems.map((p) => `${setup}: ${p}`);
}

async function main(): Promise<void> {
  const { durationMs, only } = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const workers = availableParallelism();
  console.log(`OIP benchmark: node ${process.version}, ${workers} cores (${cpus()[0]?.model ?? '?'}), ` +
    `${WARMUP_MS / 1000} s warm-up + ${durationMs / 1000} s per cell, load generator in this process (keep-alive sockets, pre-serialised requests)`);
  const { models, skipped } = await loadModels(root, only);
  for (const line of skipped) console.log(line);
  const results: ModelResults[] = models.map((model) => ({ model, limit: { cells: [] }, plain: { cells: [] }, lathe: { cells: [] } }));

  for (const r of results) {
    try {
      const cells = await measureLimit(r.model.key, r.model.path, r.model.limitBatches, workers, { warmupMs: WARMUP_MS, durationMs }, (cell) =>
        log(`limit ${r.model.key} B=${cell.batch}: ${cell.itemsPerS.toFixed(1)} items/s`));
      r.limit = { cells };
    } catch (err) {
      r.limit = { cells: [], error: message(err) };
    }
  }
  const plainScript = fileURLToPath(new URL('./plain-server.js', import.meta.url));
  const serverProblems = [
    ...(await measureServer('plain', () => startPlain(plainScript, models), results, durationMs)),
    ...(await measureServer('lathe', () => { log('starting Lathe'); return startLathe(root, models); }, results, durationMs)),
  ];

  for (const r of results) printModel(r);
  console.log(`\nserver problems and Lathe warnings/errors (full Lathe log: ${LATHE_LOG}):`);
  for (const line of serverProblems.length > 0 ? serverProblems : ['  none']) console.log(`  ${line}`);
}

main()
  .catch((err: unknown) => console.log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
  .finally(() => {
    process.exitCode = 0;
  });

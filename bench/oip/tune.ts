/**
 * Batching configurations of one benchmarked model, compared under the same load: one Lathe
 * serves every variant of the model's manifest side by side, and each round measures every
 * variant back to back, so a slow stretch of a shared machine lands on all of them alike. For
 * choosing instances, maxBatchSize and dynamicBatching before they go into a manifest.
 *
 * Usage (after `npx tsc -p tsconfig.json` at the repo root):
 *   node dist/bench/oip/tune.js silero|mobilenet '{"name": {manifest fields}, ...}' [--rounds 4] [--duration 3] [--concurrency 32]
 *
 * e.g. '{"nodelay": {}, "wait16": {"dynamicBatching": {"preferredBatchSizes": [16], "maxQueueDelayMicroseconds": 4000}}}'
 * Each variant's fields replace the benchmark manifest's (models.ts). Prints req/s and CPU per
 * request for every round, then each variant's median. Always exits 0.
 */
import { runLoad } from './load.js';
import { loadModels, verifier, type BenchModel } from './models.js';
import { percentile } from './report.js';
import { startLathe } from './servers.js';
import { cpuWindow } from './thread-cpu.js';

const USAGE =
  'usage: node dist/bench/oip/tune.js silero|mobilenet \'{"variant": {manifest fields}}\' [--rounds 4] [--duration 3] [--concurrency 32]';

function parseArgs(argv: string[]): {
  key: 'silero' | 'mobilenet';
  variants: Record<string, Record<string, unknown>>;
  rounds: number;
  durationMs: number;
  concurrency: number;
} {
  const [key, json, ...rest] = argv;
  if ((key !== 'silero' && key !== 'mobilenet') || json === undefined) throw new Error(USAGE);
  const variants = JSON.parse(json) as Record<string, Record<string, unknown>>;
  const numbers = { '--rounds': 4, '--duration': 3, '--concurrency': 32 };
  for (let i = 0; i < rest.length; i += 2) {
    const value = Number(rest[i + 1]);
    if (!(rest[i]! in numbers) || !(value > 0)) throw new Error(`${USAGE} (bad argument ${rest[i]})`);
    numbers[rest[i] as keyof typeof numbers] = value;
  }
  return { key, variants, rounds: numbers['--rounds'], durationMs: numbers['--duration'] * 1000, concurrency: numbers['--concurrency'] };
}

async function main(): Promise<void> {
  const { key, variants, rounds, durationMs, concurrency } = parseArgs(process.argv.slice(2));
  const { models, skipped } = await loadModels(process.cwd(), key);
  const base = models[0];
  if (!base) return void console.log(skipped.join('\n'));
  const list: BenchModel[] = Object.entries(variants).map(([name, fields]) => ({
    ...base,
    name,
    manifest: { ...(base.manifest as object), ...fields },
  }));
  const server = await startLathe(process.cwd(), list);
  const perS = new Map<string, number[]>(list.map((m) => [m.name, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const model of list) {
        const cpu = cpuWindow(server.pid);
        const target = { port: server.port, path: `/v2/models/${model.name}/infer`, body: model.body, headers: model.headers };
        const result = await runLoad(target, { concurrency, warmupMs: 1000, durationMs, verify: verifier(model), window: cpu.window });
        perS.get(model.name)!.push(result.requestsPerS);
        const c = cpu.perRequest(result.completed);
        const failed = [...result.failures.values()].reduce((a, f) => a + f.count, 0) + result.networkErrors + result.bad;
        console.log(
          `round ${round} ${model.name.padEnd(12)} ${result.requestsPerS.toFixed(0).padStart(6)} req/s  p50 ${percentile(result.latenciesMs, 0.5).toFixed(2)} ms` +
            (c
              ? `  CPU ms/request: main ${c.httpThreadMs.toFixed(3)}, other ${c.otherThreadsMs.toFixed(3)}, load generator ${c.loadGeneratorMs.toFixed(3)}`
              : '') +
            (failed > 0 ? `  ${failed} failed or wrong` : ''),
        );
      }
    }
  } finally {
    for (const problem of await server.stop()) console.log(`lathe: ${problem}`);
  }
  for (const [name, values] of perS)
    console.log(
      `${name.padEnd(12)} median ${percentile(values, 0.5).toFixed(0)} req/s (rounds: ${values.map((v) => v.toFixed(0)).join(', ')})`,
    );
}

main().catch((err: unknown) => console.log(`tune failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));

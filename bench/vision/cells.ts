/**
 * What the vision benchmarks share: the duration flag, the HTTP cells at each concurrency against
 * a running Lathe, and the table comparing them with the in-process limit.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HttpReply, runLoad } from '../oip/load.js';
import { percentile } from '../oip/report.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The real models and photos beside the project, or where LATHE_TEST_SHARED_MODELS says (as the tests read them). */
export const SHARED = process.env.LATHE_TEST_SHARED_MODELS || join(ROOT, '../shared/models');

export const CONCURRENCIES = [1, 16];
export const TARGET = 0.8;
export const WARMUP_MS = 1000;
export const LIMITS = { maxImagePixels: 50_000_000, maxImageSide: 16_384, maxImageAspectRatio: 64 };

export const durationMs = (() => {
  const i = process.argv.indexOf('--duration');
  return i > 0 ? Number(process.argv[i + 1]) * 1000 : 8000;
})();

export interface Cell {
  itemsPerS: number;
  p50: number;
  p99: number;
}
export type HttpCell = Cell & { bad: number; failures: number };

/** Rounds of `round(concurrency)` until the window closes, after a warm-up: `concurrency` images a round. */
export async function inProcessCell(concurrency: number, round: (concurrency: number) => Promise<void>): Promise<Cell> {
  const latencies: number[] = [];
  let images = 0;
  const warmEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmEnd) await round(concurrency);
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    await round(concurrency);
    latencies.push(performance.now() - t0);
    images += concurrency;
  }
  return { itemsPerS: images / (durationMs / 1000), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/** One HTTP cell per concurrency: the same image as the raw body of every request. */
export async function httpCells(
  port: number,
  path: string,
  body: Buffer,
  contentType: string,
  verify: (reply: HttpReply) => string | undefined,
): Promise<Map<number, HttpCell>> {
  const cells = new Map<number, HttpCell>();
  for (const concurrency of CONCURRENCIES) {
    const result = await runLoad(
      { port, path, body, headers: { 'content-type': contentType } },
      { concurrency, warmupMs: WARMUP_MS, durationMs, verify },
    );
    const failures = [...result.failures.values()].reduce((n, f) => n + f.count, 0) + result.networkErrors;
    cells.set(concurrency, {
      itemsPerS: result.requestsPerS,
      p50: percentile(result.latenciesMs, 0.5),
      p99: percentile(result.latenciesMs, 0.99),
      bad: result.bad,
      failures,
    });
  }
  return cells;
}

/** The Markdown table and the verdict at concurrency 16. */
export function printComparison(limits: Map<number, Cell>, http: Map<number, HttpCell>, limitLatency: string): void {
  console.log(
    `| concurrency | limit images/s | limit p50 / p99 ms (${limitLatency}) | Lathe images/s | Lathe p50 / p99 ms | Lathe / limit |`,
  );
  console.log('|---|---|---|---|---|---|');
  for (const c of CONCURRENCIES) {
    const l = limits.get(c)!;
    const h = http.get(c)!;
    console.log(
      `| ${c} | ${l.itemsPerS.toFixed(1)} | ${l.p50.toFixed(1)} / ${l.p99.toFixed(1)} | ${h.itemsPerS.toFixed(1)} | ${h.p50.toFixed(1)} / ${h.p99.toFixed(1)} | ${(h.itemsPerS / l.itemsPerS).toFixed(2)} |`,
    );
    if (h.bad || h.failures) console.log(`  concurrency ${c}: ${h.failures} failed requests, ${h.bad} wrong answers`);
  }
  const ratio = http.get(16)!.itemsPerS / limits.get(16)!.itemsPerS;
  console.log(`\ntarget: Lathe >= ${TARGET}x the limit at concurrency 16: ${ratio.toFixed(2)}x ${ratio >= TARGET ? 'PASS' : 'FAIL'}`);
}

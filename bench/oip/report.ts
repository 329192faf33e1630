/** Tables and target ratios, printed once every setup of every model has been measured. */
import type { LimitCell } from './limit.js';
import type { LoadResult } from './load.js';
import type { BenchModel } from './models.js';
import type { CpuPerRequest } from './thread-cpu.js';

export const CONCURRENCIES = [1, 8, 32] as const;
const TARGET_CONCURRENCY = 32;

export interface HttpCell {
  concurrency: number;
  result: LoadResult;
  /** Lathe only: rows per model execution over the cell, from its statistics endpoint. */
  avgBatch?: number;
  /** Where the measured window's CPU went, per completed request. */
  cpu?: CpuPerRequest;
}

export interface SetupRun<T> {
  cells: T[];
  error?: string;
}

export interface ModelResults {
  model: BenchModel;
  limit: SetupRun<LimitCell>;
  plain: SetupRun<HttpCell>;
  lathe: SetupRun<HttpCell>;
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const num = (v: number) => (Number.isNaN(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function bestLimit(cells: LimitCell[]): LimitCell | undefined {
  return cells.reduce<LimitCell | undefined>((best, c) => (best === undefined || c.itemsPerS > best.itemsPerS ? c : best), undefined);
}

function cellText(reqPerS: number | undefined, itemsPerS: number, p50: number, p99: number, withItems: boolean): string {
  const req = reqPerS === undefined ? '-' : num(reqPerS);
  return ` ${req.padStart(8)}${withItems ? num(itemsPerS).padStart(9) : ''}${num(p50).padStart(8)}${num(p99).padStart(8)} |`;
}

function limitBlock(run: SetupRun<LimitCell>): string[] {
  if (run.error) return [`limit: failed: ${run.error}`];
  const best = bestLimit(run.cells);
  const lines = [`limit: ${run.cells[0]?.workers ?? '?'} worker threads x 1 session (intraOp 1, interOp 1, optimization all), session.run back-to-back`];
  lines.push('    batch   items/s  run p50 ms  run p99 ms');
  for (const c of run.cells) {
    const mark = c === best ? '   <- best' : '';
    lines.push(`  ${String(c.batch).padStart(7)}${num(c.itemsPerS).padStart(10)}${num(percentile(c.runLatenciesMs, 0.5)).padStart(12)}${num(percentile(c.runLatenciesMs, 0.99)).padStart(12)}${mark}`);
  }
  return lines;
}

function httpRow(label: string, run: SetupRun<HttpCell>, perRequest: number, withItems: boolean): string {
  if (run.error) return `${label.padEnd(16)}| failed: ${run.error.split('\n')[0]}`;
  let row = label.padEnd(16) + '|';
  for (const c of CONCURRENCIES) {
    const cell = run.cells.find((x) => x.concurrency === c);
    if (!cell) row += ' (not run)'.padEnd(withItems ? 35 : 26) + '|';
    else {
      const r = cell.result;
      row += cellText(r.requestsPerS, r.requestsPerS * perRequest, percentile(r.latenciesMs, 0.5), percentile(r.latenciesMs, 0.99), withItems);
    }
  }
  return row;
}

function problems(setup: string, run: SetupRun<HttpCell>): string[] {
  const lines: string[] = [];
  const totals = { verified: 0, bad: 0, nonOk: 0, network: 0 };
  for (const { concurrency, result, avgBatch, cpu } of run.cells) {
    totals.verified += result.verified;
    totals.bad += result.bad;
    totals.network += result.networkErrors;
    const at = `${setup} c=${concurrency}`;
    const { queueMs, inferenceMs } = result.serverTimings;
    if (queueMs.length > 0 || inferenceMs.length > 0 || avgBatch !== undefined) {
      const batch = avgBatch === undefined ? '' : `, mean ${num(avgBatch)} items per model execution`;
      lines.push(`  ${at}: server p50 x-queue-time-ms ${num(percentile(queueMs, 0.5))}, x-inference-time-ms ${num(percentile(inferenceMs, 0.5))}${batch}`);
    }
    if (cpu && concurrency === TARGET_CONCURRENCY) {
      lines.push(`  ${at}: CPU per request ${num(cpu.httpThreadMs)} ms on the main (HTTP) thread, ${num(cpu.otherThreadsMs)} ms on its other threads ` +
        `(model threads, V8's GC helpers), ${num(cpu.loadGeneratorMs)} ms in the load generator`);
    }
    for (const [status, f] of result.failures) {
      totals.nonOk += f.count;
      lines.push(`  ${at}: ${f.count} x HTTP ${status}, e.g. ${f.sample.replace(/\s+/g, ' ')}`);
    }
    if (result.networkErrors > 0) lines.push(`  ${at}: ${result.networkErrors} network errors, e.g. ${result.networkErrorSample}`);
    for (const sample of result.badSamples) lines.push(`  ${at}: wrong result: ${sample}`);
  }
  if (run.cells.length > 0) {
    lines.unshift(`  ${setup}: ${totals.verified} replies checked against the in-process output: ${totals.bad} wrong; ` +
      `${totals.nonOk} non-200, ${totals.network} network errors`);
  }
  return lines;
}

export function printModel(results: ModelResults): void {
  const { model } = results;
  const withItems = model.itemsPerRequest > 1;
  console.log(`\n== ${model.title} ==`);
  for (const line of limitBlock(results.limit)) console.log(line);
  const cols = ` ${'req/s'.padStart(8)}${withItems ? 'items/s'.padStart(9) : ''}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)} |`;
  const head = ' '.repeat(16) + '|' + CONCURRENCIES.map((c) => ` concurrency ${c}`.padEnd(cols.length - 1) + '|').join('');
  console.log('');
  console.log(head);
  console.log('setup'.padEnd(16) + '|' + cols.repeat(CONCURRENCIES.length));
  const best = bestLimit(results.limit.cells);
  if (best) {
    const p50 = percentile(best.runLatenciesMs, 0.5);
    const p99 = percentile(best.runLatenciesMs, 0.99);
    const cell = cellText(undefined, best.itemsPerS, p50, p99, true);
    const shown = withItems ? cell : ` ${num(best.itemsPerS).padStart(8)}${num(p50).padStart(8)}${num(p99).padStart(8)} |`;
    console.log(`limit (B=${best.batch})`.padEnd(16) + '|' + shown.repeat(CONCURRENCIES.length));
  }
  console.log(httpRow('plain', results.plain, model.itemsPerRequest, withItems));
  console.log(httpRow('lathe', results.lathe, model.itemsPerRequest, withItems));
  console.log(`(limit row: items/s${withItems ? '' : ' under req/s'} and latency of one session.run at its best batch; no HTTP, so the same in every column)`);
  for (const line of [...problems('plain', results.plain), ...problems('lathe', results.lathe)]) console.log(line);
  printRatios(results);
}

function itemsAt(run: SetupRun<HttpCell>, concurrency: number, perRequest: number): number {
  const cell = run.cells.find((c) => c.concurrency === concurrency);
  return cell ? cell.result.requestsPerS * perRequest : NaN;
}

function ratioLine(label: string, ratio: number, target?: number): string {
  const value = num(ratio).padStart(6);
  if (target === undefined) return `  ${label.padEnd(44)}${value}`;
  const verdict = ratio >= target ? 'PASS' : 'FAIL';
  return `  ${label.padEnd(44)}${value}   target >= ${target}   ${verdict}`;
}

function printRatios({ model, limit, plain, lathe }: ModelResults): void {
  const per = model.itemsPerRequest;
  const best = bestLimit(limit.cells);
  const limitItems = best?.itemsPerS ?? NaN;
  const latheItems = itemsAt(lathe, TARGET_CONCURRENCY, per);
  const plainItems = itemsAt(plain, TARGET_CONCURRENCY, per);
  console.log(`ratios (items/s${per > 1 ? '' : ' = requests/s'}) at concurrency ${TARGET_CONCURRENCY}:`);
  console.log(ratioLine(`lathe / limit (B=${best?.batch ?? '?'})`, latheItems / limitItems, model.targets.vsLimit));
  if (model.targets.vsPlain !== undefined) console.log(ratioLine('lathe / plain', latheItems / plainItems, model.targets.vsPlain));
  else console.log(ratioLine('lathe / plain', latheItems / plainItems));
  const sameBatch = limit.cells.find((c) => c.batch === per);
  if (sameBatch && sameBatch !== best) console.log(ratioLine(`lathe / limit at B=${sameBatch.batch} (the request's batch)`, latheItems / sameBatch.itemsPerS));
  console.log(ratioLine('plain / limit', plainItems / limitItems));
  for (const c of CONCURRENCIES.filter((x) => x !== TARGET_CONCURRENCY)) {
    console.log(ratioLine(`lathe / plain at concurrency ${c}`, itemsAt(lathe, c, per) / itemsAt(plain, c, per)));
  }
}

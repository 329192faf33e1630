/** Tables and target ratios, printed once every setup of every model has been measured. */
import type { LimitCell } from './limit.js';
import type { LoadResult } from './load.js';
import type { BenchModel } from './models.js';
import type { CpuPerRequest } from './thread-cpu.js';

export const CONCURRENCIES = [1, 8, 32] as const;
export const TARGET_CONCURRENCY = 32;

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

/** One round at the target concurrency: limit, plain, Lathe and the floor measured back to back. */
export interface Round {
  /** The limit at its best batch size (NaN when the limit failed). */
  limitItemsPerS: number;
  /** The limit's CPU time per item (see LimitCell). */
  limitCpuUsPerItem: number;
  plain?: HttpCell;
  lathe?: HttpCell;
  /** The plain server's route that takes and answers the same request without running the model. */
  floor?: HttpCell;
}

export interface ModelResults {
  model: BenchModel;
  limit: SetupRun<LimitCell>;
  plain: SetupRun<HttpCell>;
  lathe: SetupRun<HttpCell>;
  floor: SetupRun<HttpCell>;
  rounds: Round[];
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const num = (v: number) => (Number.isNaN(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function bestLimit(cells: LimitCell[]): LimitCell | undefined {
  return cells.reduce<LimitCell | undefined>((best, c) => (best === undefined || c.itemsPerS > best.itemsPerS ? c : best), undefined);
}

function cellText(reqPerS: number | undefined, itemsPerS: number, p50: number, p99: number, withItems: boolean): string {
  const req = reqPerS === undefined ? '-' : num(reqPerS);
  return ` ${req.padStart(8)}${withItems ? num(itemsPerS).padStart(9) : ''}${num(p50).padStart(8)}${num(p99).padStart(8)} |`;
}

function limitBlock(run: SetupRun<LimitCell>): string[] {
  if (run.error) return [`limit: failed: ${run.error}`];
  const best = bestLimit(run.cells);
  const lines = [
    `limit: ${run.cells[0]?.workers ?? '?'} worker threads x 1 session (intraOp 1, interOp 1, optimization all), session.run back-to-back`,
  ];
  lines.push('    batch   items/s  run p50 ms  run p99 ms  CPU µs/item');
  for (const c of run.cells) {
    const mark = c === best ? '   <- best' : '';
    lines.push(
      `  ${String(c.batch).padStart(7)}${num(c.itemsPerS).padStart(10)}${num(percentile(c.runLatenciesMs, 0.5)).padStart(12)}${num(percentile(c.runLatenciesMs, 0.99)).padStart(12)}${num(c.cpuUsPerItem).padStart(13)}${mark}`,
    );
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
      row += cellText(
        r.requestsPerS,
        r.requestsPerS * perRequest,
        percentile(r.latenciesMs, 0.5),
        percentile(r.latenciesMs, 0.99),
        withItems,
      );
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
      lines.push(
        `  ${at}: server p50 x-queue-time-ms ${num(percentile(queueMs, 0.5))}, x-inference-time-ms ${num(percentile(inferenceMs, 0.5))}${batch}`,
      );
    }
    if (cpu && concurrency === TARGET_CONCURRENCY) {
      lines.push(
        `  ${at}: CPU per request ${num(cpu.httpThreadMs)} ms on the main (HTTP) thread, ${num(cpu.otherThreadsMs)} ms on its other threads ` +
          `(model threads, V8's GC helpers), ${num(cpu.loadGeneratorMs)} ms in the load generator`,
      );
    }
    for (const [status, f] of result.failures) {
      totals.nonOk += f.count;
      lines.push(`  ${at}: ${f.count} x HTTP ${status}, e.g. ${f.sample.replace(/\s+/g, ' ')}`);
    }
    if (result.networkErrors > 0) lines.push(`  ${at}: ${result.networkErrors} network errors, e.g. ${result.networkErrorSample}`);
    for (const sample of result.badSamples) lines.push(`  ${at}: wrong result: ${sample}`);
  }
  if (run.cells.length > 0) {
    const checked =
      setup === 'floor'
        ? 'filler replies, not checked'
        : `${totals.verified} replies checked against the in-process output: ${totals.bad} wrong`;
    lines.unshift(`  ${setup}: ${checked}; ` + `${totals.nonOk} non-200, ${totals.network} network errors`);
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
  console.log(
    `(limit row: items/s${withItems ? '' : ' under req/s'} and latency of one session.run at its best batch; no HTTP, so the same in every column)`,
  );
  for (const line of [...problems('plain', results.plain), ...problems('lathe', results.lathe), ...problems('floor', results.floor)])
    console.log(line);
  printRatios(results);
}

function itemsAt(run: SetupRun<HttpCell>, concurrency: number, perRequest: number): number {
  const cell = run.cells.find((c) => c.concurrency === concurrency);
  return cell ? cell.result.requestsPerS * perRequest : NaN;
}

const itemsOf = (cell: HttpCell | undefined, perRequest: number) => (cell ? cell.result.requestsPerS * perRequest : NaN);

/** The median of the values that are numbers (NaN when none are). */
function median(values: number[]): number {
  const known = values.filter((v) => !Number.isNaN(v));
  return known.length === 0 ? NaN : percentile(known, 0.5);
}

function ratioLine(label: string, ratio: number, target?: number): string {
  // Three decimals where a verdict depends on it: 0.697 must not print as a failing 0.70.
  const value = (target === undefined || Number.isNaN(ratio) ? num(ratio) : ratio.toFixed(3)).padStart(6);
  if (target === undefined) return `  ${label.padEnd(50)}${value}`;
  const verdict = ratio >= target ? 'PASS' : 'FAIL';
  return `  ${label.padEnd(50)}${value}   target >= ${target}   ${verdict}`;
}

/**
 * The most a Fastify-based server could do in a round: the floor's CPU per request (server and load
 * generator) plus the limit's inference CPU per request, on all cores. As items/s over the limit.
 */
function boundVsLimit(r: Round, perRequest: number, cores: number): number {
  const cpu = r.floor?.cpu;
  if (!cpu) return NaN;
  const inferenceMs = (r.limitCpuUsPerItem * perRequest) / 1000;
  const requestsPerS = (cores * 1000) / (cpu.httpThreadMs + cpu.otherThreadsMs + cpu.loadGeneratorMs + inferenceMs);
  return (requestsPerS * perRequest) / r.limitItemsPerS;
}

/** Per round: items/s of each setup and the ratios; the targets use the median ratio. */
function printRounds(model: BenchModel, rounds: Round[], best: LimitCell | undefined) {
  const per = model.itemsPerRequest;
  const cores = best?.workers ?? NaN;
  const rows = rounds.map((r) => {
    const plain = itemsOf(r.plain, per);
    const lathe = itemsOf(r.lathe, per);
    const floor = r.floor?.cpu;
    return {
      limit: r.limitItemsPerS,
      plain,
      lathe,
      vsLimit: lathe / r.limitItemsPerS,
      vsPlain: lathe / plain,
      plainVsLimit: plain / r.limitItemsPerS,
      floorMs: floor ? floor.httpThreadMs + floor.otherThreadsMs + floor.loadGeneratorMs : NaN,
      bound: boundVsLimit(r, per, cores),
    };
  });
  console.log(
    `rounds at concurrency ${TARGET_CONCURRENCY}, each measuring limit (B=${best?.batch ?? '?'}), plain, lathe and the HTTP floor back to back (items/s):`,
  );
  console.log(
    `  ${'round'.padEnd(8)}${'limit'.padStart(9)}${'plain'.padStart(9)}${'lathe'.padStart(9)}${'lathe/limit'.padStart(13)}${'lathe/plain'.padStart(13)}` +
      `${'floor CPU ms/req'.padStart(18)}${'bound/limit'.padStart(13)}`,
  );
  rows.forEach((row, i) => {
    console.log(
      `  ${String(i + 1).padEnd(8)}${num(row.limit).padStart(9)}${num(row.plain).padStart(9)}${num(row.lathe).padStart(9)}${num(row.vsLimit).padStart(13)}` +
        `${num(row.vsPlain).padStart(13)}${num(row.floorMs).padStart(18)}${num(row.bound).padStart(13)}`,
    );
  });
  const result = {
    vsLimit: median(rows.map((r) => r.vsLimit)),
    vsPlain: median(rows.map((r) => r.vsPlain)),
    plainVsLimit: median(rows.map((r) => r.plainVsLimit)),
    bound: median(rows.map((r) => r.bound)),
  };
  console.log(
    `  ${'median'.padEnd(35)}${num(result.vsLimit).padStart(13)}${num(result.vsPlain).padStart(13)}${''.padStart(18)}${num(result.bound).padStart(13)}`,
  );
  console.log(
    '  (floor: the plain server taking the same request and answering filler of the same shape, no model run; its CPU per request on the server ' +
      "and in the load generator. bound: that plus the limit's inference CPU per request, on all cores: the most a Fastify-based server could do here)",
  );
  return result;
}

function printRatios({ model, limit, plain, lathe, rounds }: ModelResults): void {
  const per = model.itemsPerRequest;
  const best = bestLimit(limit.cells);
  const medians = printRounds(model, rounds, best);
  console.log(`ratios (items/s${per > 1 ? '' : ' = requests/s'}) at concurrency ${TARGET_CONCURRENCY}, median of the rounds:`);
  console.log(ratioLine(`lathe / limit (B=${best?.batch ?? '?'})`, medians.vsLimit, model.targets.vsLimit));
  console.log(ratioLine('lathe / plain', medians.vsPlain, model.targets.vsPlain));
  const sameBatch = limit.cells.find((c) => c.batch === per);
  // The sweep measured the request's own batch size once, next to round 1.
  const latheRound1 = itemsAt(lathe, TARGET_CONCURRENCY, per);
  if (sameBatch && sameBatch !== best)
    console.log(ratioLine(`lathe / limit at B=${sameBatch.batch} (the request's batch), round 1`, latheRound1 / sameBatch.itemsPerS));
  console.log(ratioLine('plain / limit', medians.plainVsLimit));
  console.log(ratioLine("bound / limit (HTTP floor + the limit's inference)", medians.bound));
  for (const c of CONCURRENCIES.filter((x) => x !== TARGET_CONCURRENCY)) {
    console.log(ratioLine(`lathe / plain at concurrency ${c}`, itemsAt(lathe, c, per) / itemsAt(plain, c, per)));
  }
}

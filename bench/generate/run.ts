/**
 * Text generation benchmark on the generated bench-size decoder (`test/support/decoder-model.ts`:
 * Qwen2 layout, 6 layers, hidden 512, vocabulary 32000, fp32): Lathe's streamed
 * `POST /v1/completions` (a Lathe child process, as `oip/` starts it) at concurrency 1, 4 and 16,
 * against three in-process references on the same model folder, each with the thread count Lathe's
 * session has (one intra-op thread per core, the manifest's `intraOpThreads`, since one session
 * worker runs the whole decode loop; the same session options as Lathe's workers):
 *   - Transformers.js `generate()` one request at a time (greedy, the same prompts and token count);
 *   - the raw decode limit: 16 prompts prefilled together and the batch stepped back to back, with
 *     the prefill in its time (the work 16 concurrent requests ask for, nothing else);
 *   - the prefill time of one prompt alone (what time to first token cannot beat).
 * Each request has a token-id prompt of `--prompt` tokens, `max_tokens` = `--tokens`,
 * `ignore_eos: true`, `temperature: 0` and `stream_options.include_usage`, as a client that asks
 * for no logprobs: the token count comes from the usage chunk, time to first token and the gaps
 * from the chunks that carry text (a byte-level BPE token that ends inside a UTF-8 character adds
 * its text with the next one). Every answer must stream exactly `--tokens` tokens and end with
 * finish_reason "length".
 *
 * Usage (after `npx tsc -p tsconfig.json`):
 *   node dist/bench/generate/run.js [--tokens 128] [--prompt 32] [--rounds 1] [--cache DIR] [--spinning on|off]
 * Prints a table (nearest-rank medians over the rounds), the ratios against their targets with
 * PASS/FAIL, and always exits 0. About 90 s per round after Lathe has started.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { bytesPerToken } from '../../src/generation/kv-batch.js';
import { lastPositionGraph } from '../../src/generation/last-position-graph.js';
import { cachedDecoderModel, decoderManifest } from '../../test/support/decoder-model.js';
import { random, writeManifest } from '../../test/support/models.js';
import { percentile } from '../oip/report.js';
import { type RunningServer, startLathe } from '../oip/servers.js';
import { cpuWindow } from '../oip/thread-cpu.js';
import {
  type DecodeLimit,
  type EngineRun,
  engineThroughput,
  openSession,
  prefillSeconds,
  rawDecodeLimit,
  type Throughput,
  transformersJs,
} from './in-process.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i > 0 ? Math.floor(Number(process.argv[i + 1])) : fallback;
  return Number.isFinite(value) && value >= 1 ? value : fallback;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL = 'bench-lm';
const TOKENS = option('tokens', 128);
const PROMPT = option('prompt', 32);
const ROUNDS = option('rounds', 1);
const CACHE = (() => {
  const i = process.argv.indexOf('--cache');
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : join(tmpdir(), 'lathe-bench-cache');
})();
const THREADS = availableParallelism();
/** `--spinning on|off`: the manifest's intraOpSpinning for Lathe's decode worker (absent: its default, off). */
const SPINNING = (() => {
  const i = process.argv.indexOf('--spinning');
  return i > 0 ? process.argv[i + 1] === 'on' : undefined;
})();
const MAX_SEQUENCES = 16;
/** Requests each client sends back to back, per concurrency. */
const REQUESTS_PER_CLIENT: Record<number, number> = { 1: 5, 4: 2, 16: 2 };
const CONCURRENCIES = [1, 4, 16];
/** Prompts Transformers.js generates for, one at a time (as many as the concurrency-1 cell sends). */
const TRANSFORMERS_PROMPTS = REQUESTS_PER_CLIENT[1]!;
/** No request may take longer than this; a cell is bounded by its requests. */
const REQUEST_TIMEOUT_MS = 180_000;
const TARGETS = { c16VsTransformers: 4, c16VsLimit: 0.7, c1VsTransformers: 0.9, ttftVsPrefill: 1.2 };

interface StreamResult {
  /** From sending the request to the first chunk carrying a generated token, ms. */
  ttftMs: number;
  /** Between consecutive generated tokens, ms (a chunk of k tokens counts k gaps of a k-th each). */
  gapsMs: number[];
  tokens: number;
  error?: string;
}

interface Cell {
  concurrency: number;
  requests: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  ttftP50Ms: number;
  itlP50Ms: number;
  itlP90Ms: number;
  errors: string[];
  /** Decode steps and rows the engine ran in the cell (from /metrics). */
  steps: number;
  rows: number;
  /** Lathe's CPU per generated token: HTTP thread, other threads (session worker, ONNX Runtime, GC), ms. */
  httpCpuMs?: number;
  otherCpuMs?: number;
}

interface Round {
  prefillS: number;
  /** The same prefill on the last-position graph Lathe's worker serves. */
  lastPrefillS: number;
  limit16: DecodeLimit;
  limit1: DecodeLimit;
  engine16: EngineRun;
  transformers: Throughput;
  cells: Cell[];
}

/** Prompts of PROMPT token ids below the special tokens, seeded, all different. */
function makePrompts(count: number, vocab: number): number[][] {
  const rand = random(11);
  return Array.from({ length: count }, () => Array.from({ length: PROMPT }, () => Math.floor(rand() * (vocab - 3))));
}

/** One streamed /v1/completions request, read as Server-Sent Events. */
function streamCompletion(port: number, agent: http.Agent, prompt: number[]): Promise<StreamResult> {
  const body = JSON.stringify({
    model: MODEL,
    prompt,
    max_tokens: TOKENS,
    temperature: 0,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  });
  return new Promise((resolve) => {
    const sent = performance.now();
    const result: StreamResult = { ttftMs: NaN, gapsMs: [], tokens: 0 };
    let last = sent;
    let finish: string | null = null;
    let done = false;
    let buffered = '';
    const fail = (error: string) => {
      if (!result.error) result.error = error;
    };
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/completions',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.setEncoding('utf8');
        if (response.statusCode !== 200) {
          let text = '';
          response.on('data', (c: string) => (text += c));
          response.on('end', () => {
            fail(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
            resolve(result);
          });
          return;
        }
        response.on('data', (text: string) => {
          const now = performance.now();
          buffered += text;
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            if (!event.startsWith('data: ')) continue;
            const data = event.slice('data: '.length);
            if (data === '[DONE]') {
              done = true;
              continue;
            }
            const chunk = JSON.parse(data) as {
              error?: { message: string };
              choices?: Array<{ text: string; finish_reason: string | null }>;
              usage?: { completion_tokens: number } | null;
            };
            if (chunk.error) fail(`stream error: ${chunk.error.message}`);
            if (chunk.usage) result.tokens = chunk.usage.completion_tokens;
            const choice = chunk.choices?.[0];
            if (!choice) continue;
            // A chunk per token that completes text (a token that ends inside a UTF-8 character waits for the next).
            if (choice.text) {
              if (Number.isNaN(result.ttftMs)) result.ttftMs = now - sent;
              else result.gapsMs.push(now - last);
              last = now;
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          }
        });
        response.on('end', () => {
          if (!done) fail('the stream ended without [DONE]');
          if (result.tokens !== TOKENS) fail(`${result.tokens} tokens streamed, not ${TOKENS}`);
          if (finish !== 'length') fail(`finish_reason ${finish}, not length`);
          resolve(result);
        });
        response.on('error', (err) => {
          fail(err.message);
          resolve(result);
        });
      },
    );
    request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    request.on('error', (err) => {
      fail(err.message);
      resolve(result);
    });
    request.end(body);
  });
}

/** Lathe's cumulative decode steps and rows (Prometheus text of /metrics). */
async function engineCounters(port: number): Promise<{ steps: number; rows: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = (metric: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(metric) && line.includes(`model="${MODEL}"`))
      .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { steps: sum('lathe_generation_decode_steps_total'), rows: sum('lathe_generation_decode_rows_total') };
}

/** `concurrency` clients, each sending its requests back to back. */
async function measureLathe(server: RunningServer, prompts: number[][], concurrency: number): Promise<Cell> {
  const perClient = REQUESTS_PER_CLIENT[concurrency]!;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const before = await engineCounters(server.port);
  const cpu = cpuWindow(server.pid);
  const results: StreamResult[] = [];
  cpu.window.opened();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      for (let r = 0; r < perClient; r++) {
        results.push(await streamCompletion(server.port, agent, prompts[(client * perClient + r) % prompts.length]!));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  cpu.window.closed();
  agent.destroy();
  const after = await engineCounters(server.port);
  const tokens = results.reduce((n, r) => n + r.tokens, 0);
  const gaps = results.flatMap((r) => r.gapsMs);
  const split = cpu.perRequest(tokens);
  return {
    concurrency,
    requests: results.length,
    tokens,
    seconds,
    tokensPerSecond: tokens / seconds,
    ttftP50Ms: percentile(
      results.filter((r) => !Number.isNaN(r.ttftMs)).map((r) => r.ttftMs),
      0.5,
    ),
    itlP50Ms: percentile(gaps, 0.5),
    itlP90Ms: percentile(gaps, 0.9),
    errors: results.flatMap((r) => (r.error ? [r.error] : [])),
    steps: after.steps - before.steps,
    rows: after.rows - before.rows,
    httpCpuMs: split?.httpThreadMs,
    otherCpuMs: split?.otherThreadsMs,
  };
}

/** Nearest-rank median over the rounds (of an even count, the lower middle value), as the other benchmarks report. */
const median = (values: number[]) => percentile(values, 0.5);
const fixed = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

async function main(): Promise<void> {
  const built = performance.now();
  const model = await cachedDecoderModel(CACHE, 'bench');
  console.log(`model: ${model.dir} (ready in ${((performance.now() - built) / 1000).toFixed(1)} s)`);
  const prompts = makePrompts(MAX_SEQUENCES, model.dims.vocab);
  const temp = await mkdtemp(join(tmpdir(), 'lathe-bench-generate-'));
  const loads = [loadavg()[0]!];
  const rounds: Round[] = [];
  let lathe: RunningServer | undefined;
  try {
    const models = join(temp, 'models');
    // The whole cache of 16 sequences reserved at once, twice over.
    const kvCacheBytes = 2 * MAX_SEQUENCES * (PROMPT + TOKENS) * bytesPerToken({ ...model.dims, datatype: 'FP32' });
    await writeManifest(models, MODEL, {
      ...decoderManifest(model, { maxSequences: MAX_SEQUENCES, kvCacheBytes, queue: 64 }),
      intraOpThreads: THREADS,
      ...(SPINNING === undefined ? {} : { intraOpSpinning: SPINNING }),
    });
    lathe = await startLathe(ROOT, [], { LATHE_MODELS_DIR: models, LATHE_MODELS_PRELOAD: '*' });
    // Warm-up: the first requests of a fresh session are slower (allocations, kernels picked).
    const warm = new http.Agent({ keepAlive: true });
    for (const prompt of prompts.slice(0, 2)) {
      const r = await streamCompletion(lathe.port, warm, prompt);
      if (r.error) throw new Error(`warm-up request failed: ${r.error}`);
    }
    warm.destroy();

    const lastGraph = await lastPositionGraph(join(model.dir, 'onnx/model.onnx'), temp);
    if (!lastGraph) throw new Error('the bench decoder should get the last-position graph');
    for (let round = 0; round < ROUNDS; round++) {
      // In-process first, while Lathe idles; then Lathe while this process only reads streams.
      const session = await openSession(model, THREADS);
      await rawDecodeLimit(session, model, prompts.slice(0, 2), 4); // warm-up of the batched shapes
      const prefillS = await prefillSeconds(session, model, prompts[0]!, 15);
      // The graph Lathe's decode worker opens (logits for the last position only), for comparison.
      const lastSession = await openSession(model, THREADS, lastGraph);
      const lastPrefillS = await prefillSeconds(lastSession, model, prompts[0]!, 15);
      const limit16 = await rawDecodeLimit(session, model, prompts, TOKENS);
      // Batch 1, the prompts of the concurrency-1 cell one after another.
      const ones: DecodeLimit[] = [];
      for (const prompt of prompts.slice(0, TRANSFORMERS_PROMPTS)) ones.push(await rawDecodeLimit(session, model, [prompt], TOKENS));
      const sum = (pick: (d: DecodeLimit) => number) => ones.reduce((n, d) => n + pick(d), 0);
      const limit1: DecodeLimit = {
        tokens: sum((d) => d.tokens),
        seconds: sum((d) => d.seconds),
        tokensPerSecond: sum((d) => d.tokens) / sum((d) => d.seconds),
        cpuMsPerToken: sum((d) => d.cpuMsPerToken * d.tokens) / sum((d) => d.tokens),
        prefillSeconds: sum((d) => d.prefillSeconds) / ones.length,
      };
      // The engine on the graph Lathe's worker serves (last-position logits, step columns).
      const engine16 = await engineThroughput(lastSession, model, prompts, TOKENS, 16, REQUESTS_PER_CLIENT[16]!, MAX_SEQUENCES);
      await lastSession.release();
      await session.release();
      const transformers = await transformersJs(model, prompts.slice(0, TRANSFORMERS_PROMPTS), TOKENS, THREADS);
      const cells: Cell[] = [];
      for (const concurrency of CONCURRENCIES) cells.push(await measureLathe(lathe, prompts, concurrency));
      rounds.push({ prefillS, lastPrefillS, limit16, limit1, engine16, transformers, cells });
      loads.push(loadavg()[0]!);
      console.log(
        `round ${round + 1}: ` +
          cells.map((c) => `c=${c.concurrency} ${c.tokensPerSecond.toFixed(0)} tok/s`).join(', ') +
          `; Transformers.js ${transformers.tokensPerSecond.toFixed(0)}, limit ${limit16.tokensPerSecond.toFixed(0)} tok/s`,
      );
    }
  } finally {
    if (lathe) for (const p of await lathe.stop()) if (!p.includes('NO API KEYS')) console.log(`note: ${p}`);
    await rm(temp, { recursive: true, force: true });
  }
  report(rounds, loads);
}

function report(rounds: Round[], loads: number[]): void {
  const med = (pick: (r: Round) => number) => median(rounds.map(pick));
  const cell = (c: number, pick: (x: Cell) => number | undefined) =>
    median(rounds.map((r) => pick(r.cells.find((x) => x.concurrency === c)!) ?? NaN));
  const prefillMs = med((r) => r.prefillS) * 1000;
  const transformers = med((r) => r.transformers.tokensPerSecond);
  const limit16 = med((r) => r.limit16.tokensPerSecond);
  const limit1 = med((r) => r.limit1.tokensPerSecond);

  console.log(
    `\nbench/generate: ${TOKENS} tokens per request, ${PROMPT}-token prompts, ${ROUNDS} round(s), medians; ` +
      `${THREADS} core(s), load average ${loads.map((l) => l.toFixed(1)).join(' -> ')}`,
  );
  console.log(
    `threads: Lathe's session (manifest intraOpThreads) and every in-process session here: ${THREADS} intra-op, 1 inter-op, graph optimization "all"; Lathe's intra-op spinning: ${SPINNING === undefined ? 'default (off)' : SPINNING ? 'on' : 'off'}\n`,
  );
  console.log(
    '| setup | requests | tokens | s | tokens/s | TTFT p50 ms | ITL p50 ms | ITL p90 ms | decode steps (mean batch) | Lathe CPU ms/token: HTTP thread / others | errors |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of CONCURRENCIES) {
    const last = rounds.at(-1)!.cells.find((x) => x.concurrency === c)!;
    const errors = rounds.flatMap((r) => r.cells.find((x) => x.concurrency === c)!.errors);
    console.log(
      `| Lathe, concurrency ${c} | ${last.requests} | ${last.tokens} | ${fixed(
        cell(c, (x) => x.seconds),
        2,
      )} | ${fixed(
        cell(c, (x) => x.tokensPerSecond),
        0,
      )} | ` +
        `${fixed(cell(c, (x) => x.ttftP50Ms))} | ${fixed(cell(c, (x) => x.itlP50Ms))} | ${fixed(cell(c, (x) => x.itlP90Ms))} | ` +
        `${last.steps} (${fixed(last.rows / last.steps, 1)}) | ${fixed(
          cell(c, (x) => x.httpCpuMs),
          2,
        )} / ${fixed(
          cell(c, (x) => x.otherCpuMs),
          2,
        )} | ${errors.length} |`,
    );
  }
  const t = rounds.at(-1)!.transformers;
  console.log(
    `| Transformers.js generate(), one at a time | ${TRANSFORMERS_PROMPTS} | ${t.tokens} | ${fixed(t.seconds, 2)} | ${fixed(transformers, 0)} | - | ${fixed(1000 / transformers)} | - | - | - | 0 |`,
  );
  const l16 = rounds.at(-1)!.limit16;
  console.log(
    `| raw decode limit, batch ${MAX_SEQUENCES} (prefill included) | ${MAX_SEQUENCES} | ${l16.tokens} | ${fixed(l16.seconds, 2)} | ${fixed(limit16, 0)} | ${fixed(l16.prefillSeconds * 1000)} (batch prefill) | ${fixed(((l16.seconds - l16.prefillSeconds) * 1000) / (TOKENS - 1))} (step) | - | ${TOKENS - 1} (${MAX_SEQUENCES}) | in-process ${fixed(
      med((r) => r.limit16.cpuMsPerToken),
      2,
    )} | - |`,
  );
  const l1 = rounds.at(-1)!.limit1;
  const l1Steps = TRANSFORMERS_PROMPTS * (TOKENS - 1);
  console.log(
    `| raw decode limit, batch 1, one prompt after another (for scale) | ${TRANSFORMERS_PROMPTS} | ${l1.tokens} | ${fixed(l1.seconds, 2)} | ${fixed(limit1, 0)} | ${fixed(l1.prefillSeconds * 1000)} | ${fixed(((l1.seconds - l1.prefillSeconds * TRANSFORMERS_PROMPTS) * 1000) / l1Steps)} (step) | - | ${l1Steps} (1) | in-process ${fixed(
      med((r) => r.limit1.cpuMsPerToken),
      2,
    )} | - |`,
  );
  const e = rounds.at(-1)!.engine16;
  console.log(
    `| DecodeEngine in-process, 16 callers x ${REQUESTS_PER_CLIENT[16]} (no worker, sampler or HTTP) | ${e.tokens / TOKENS} | ${e.tokens} | ${fixed(e.seconds, 2)} | ${fixed(
      med((r) => r.engine16.tokensPerSecond),
      0,
    )} | - | - | - | ${e.steps} (${fixed(e.rows / e.steps, 1)}), ${e.prefills} prefills | - | - |`,
  );
  console.log(`| prefill of one ${PROMPT}-token prompt, p50 | - | - | - | - | ${fixed(prefillMs, 2)} | - | - | - | - | - |`);
  console.log(
    `| the same on the last-position graph Lathe's worker opens, p50 | - | - | - | - | ${fixed(med((r) => r.lastPrefillS) * 1000, 2)} | - | - | - | - | - |`,
  );

  const c16 = cell(16, (x) => x.tokensPerSecond);
  const c1 = cell(1, (x) => x.tokensPerSecond);
  const ttft1 = cell(1, (x) => x.ttftP50Ms);
  const totalErrors = rounds.reduce((n, r) => n + r.cells.reduce((m, x) => m + x.errors.length, 0), 0);
  const verdict = (ratio: number, target: number, atMost = false) =>
    `${ratio.toFixed(2)}x ${!Number.isNaN(ratio) && totalErrors === 0 && (atMost ? ratio <= target : ratio >= target) ? 'PASS' : 'FAIL'}`;
  console.log('\ntargets (a cell with an error fails every target):');
  console.log(
    `  concurrency 16, Lathe / Transformers.js one at a time >= ${TARGETS.c16VsTransformers}: ${verdict(c16 / transformers, TARGETS.c16VsTransformers)}`,
  );
  console.log(`  concurrency 16, Lathe / raw decode limit >= ${TARGETS.c16VsLimit}: ${verdict(c16 / limit16, TARGETS.c16VsLimit)}`);
  console.log(
    `  concurrency 1, Lathe / Transformers.js >= ${TARGETS.c1VsTransformers}: ${verdict(c1 / transformers, TARGETS.c1VsTransformers)}`,
  );
  console.log(
    `  concurrency 1, TTFT p50 / in-process prefill p50 <= ${TARGETS.ttftVsPrefill}: ${verdict(ttft1 / prefillMs, TARGETS.ttftVsPrefill, true)}`,
  );
  const errors = rounds.flatMap((r) => r.cells.flatMap((x) => x.errors.map((e) => `concurrency ${x.concurrency}: ${e}`)));
  if (errors.length > 0) console.log(`errors (${errors.length}):\n  ${[...new Set(errors)].slice(0, 10).join('\n  ')}`);
}

await main();

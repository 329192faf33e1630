/**
 * Embeddings benchmark (acceptance point 6 of the NLP issue): POST /v1/embeddings throughput in
 * inputs per second with glove-100d and with the generated BERT-style fixture, at concurrency 1
 * and 16 and 1 or 32 inputs per request, against the limit the issue names: in-process calls of
 * the same pipeline (Transformers.js tokenizer, one onnxruntime-node session with a thread per
 * core, the same pooling and normalisation) made by as many concurrent callers as the HTTP cell
 * has, each call with the same inputs as one request. A second column, the ceiling, merges all
 * concurrent callers' inputs into one batch per call: what no per-request server can reach when a
 * request carries a single input, printed so the gap is visible. At concurrency 16 a bare
 * Fastify route and a bare NestJS controller taking the same requests (floor-server.ts) give the
 * HTTP floors, and with the pipeline's cheapest CPU per input the bounds: the most a server on
 * each stack could reach here. Requests ask for base64 vectors, as the openai client does.
 *
 * Usage (after `npx tsc -p tsconfig.json` and `npm run models:prepare`):
 *   node dist/bench/embeddings/run.js [--duration 6] [--only glove-100d|bert-mini] [--concurrency 1|16] [--inputs 1|32]
 * Prints PASS/FAIL and always exits 0.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { configureTransformers, loadTokenizer, type PreTrainedTokenizer } from '../../src/nlp/hf-tokenizer.js';
import { writeBertFixtures } from '../../test/support/hf-fixtures.js';
import { writeManifest } from '../../test/support/models.js';
import { runLoad } from '../oip/load.js';
import { percentile } from '../oip/report.js';
import { type RunningServer, startForked, startLathe } from '../oip/servers.js';
import { type CpuPerRequest, cpuWindow } from '../oip/thread-cpu.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GLOVE = join(ROOT, 'models/glove-100d/1/hf');
const flagValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** `--only glove-100d`: one model; `--concurrency 16` and `--inputs 1`: one column of cells (e.g. to profile one cell). */
const ONLY = flagValue('--only');
const CONCURRENCIES = flagValue('--concurrency') ? [Number(flagValue('--concurrency'))] : [1, 16];
const BATCHES = flagValue('--inputs') ? [Number(flagValue('--inputs'))] : [1, 32];
const TARGET = 0.8;
/** Lathe's HTTP-thread CPU per small request against the NestJS floor's HTTP thread. */
const HTTP_CPU_TARGET = 1.5;
const WARMUP_MS = 1000;
const durationMs = Number(flagValue('--duration') ?? 6) * 1000;

const SENTENCES = [
  'the quick brown fox jumps over the lazy dog',
  'please send the invoice before friday',
  'a cat sat on the mat and looked at the bird',
  'stock markets fell sharply after the announcement',
  'the movie was great and the food was good',
  'john smith visited paris and london last year',
];
const texts = (n: number) => Array.from({ length: n }, (_, i) => SENTENCES[i % SENTENCES.length]!);

interface BenchModel {
  name: string;
  folder: string;
  output: string;
  pooling: 'mean' | 'none';
  inputs: string[];
}

interface InProcessResult {
  perS: number;
  p50: number;
  /** This process's CPU time per input over the measured window. */
  cpuUsPerInput: number;
}

/**
 * In-process: `callers` concurrent loops, each tokenizing `rows` texts, running them as one padded
 * batch and pooling, back to back, on a session with `threads` intra-op threads (default one per
 * core). Inputs per second over all callers.
 */
async function inProcess(
  model: BenchModel,
  tokenizer: PreTrainedTokenizer,
  callers: number,
  rows: number,
  threads = availableParallelism(),
): Promise<InProcessResult> {
  const session = await ort.InferenceSession.create(join(model.folder, 'onnx/model.onnx'), {
    intraOpNumThreads: threads,
    graphOptimizationLevel: 'all',
  });
  const batch = texts(rows);
  const round = async () => {
    const ids = batch.map((t) => tokenizer.encode(t));
    const L = Math.max(...ids.map((r) => r.length));
    const inputIds = new BigInt64Array(rows * L);
    const mask = new BigInt64Array(rows * L);
    ids.forEach((r, i) =>
      r.forEach((id, j) => {
        inputIds[i * L + j] = BigInt(id);
        mask[i * L + j] = 1n;
      }),
    );
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of model.inputs) {
      feeds[name] = new ort.Tensor(
        'int64',
        name === 'input_ids' ? inputIds : name === 'attention_mask' ? mask : new BigInt64Array(rows * L),
        [rows, L],
      );
    }
    const out = (await session.run(feeds, [model.output]))[model.output]!;
    const data = out.data as Float32Array;
    const width = out.dims.at(-1)!;
    // The same pooling and L2 normalisation as the route.
    for (let r = 0; r < rows; r += 1) {
      const v = new Float32Array(width);
      if (model.pooling === 'none') v.set(data.subarray(r * width, (r + 1) * width));
      else
        for (let t = 0; t < ids[r]!.length; t += 1)
          for (let k = 0; k < width; k += 1) v[k]! += data[(r * L + t) * width + k]! / ids[r]!.length;
      const norm = Math.hypot(...v);
      for (let k = 0; k < width; k += 1) v[k]! /= norm || 1;
    }
  };
  const warm = performance.now() + WARMUP_MS;
  while (performance.now() < warm) await round();
  const latencies: number[] = [];
  const cpuBefore = process.cpuUsage();
  const end = performance.now() + durationMs;
  let done = 0;
  const caller = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await round();
      latencies.push(performance.now() - t0);
      done += rows;
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  const cpu = process.cpuUsage(cpuBefore);
  await session.release();
  return { perS: done / (durationMs / 1000), p50: percentile(latencies, 0.5), cpuUsPerInput: (cpu.user + cpu.system) / done };
}

interface HttpCell {
  perS: number;
  p50: number;
  failures: number;
  cpu?: CpuPerRequest;
}

/** `concurrency` closed loops posting `batch` texts per request; inputs per second. */
async function measureHttp(server: RunningServer, model: string, concurrency: number, batch: number): Promise<HttpCell> {
  // base64 is what the official openai client asks for unless told otherwise.
  const body = Buffer.from(JSON.stringify({ model, input: texts(batch), encoding_format: 'base64' }));
  const cpu = cpuWindow(server.pid);
  const result = await runLoad(
    { port: server.port, path: '/v1/embeddings', body, headers: { 'content-type': 'application/json' } },
    {
      concurrency,
      warmupMs: WARMUP_MS,
      durationMs,
      window: cpu.window,
      verify: (reply) =>
        (JSON.parse(reply.body.toString('utf8')) as { data: unknown[] }).data.length === batch ? undefined : 'wrong number of embeddings',
    },
  );
  const failures = [...result.failures.values()].reduce((n, f) => n + f.count, 0) + result.networkErrors + result.bad;
  return { perS: result.requestsPerS * batch, p50: percentile(result.latenciesMs, 0.5), failures, cpu: cpu.perRequest(result.completed) };
}

async function main(): Promise<void> {
  if (!existsSync(join(GLOVE, 'onnx/model.onnx'))) {
    console.log(`skipped: ${GLOVE} is missing; run npm run models:prepare first`);
    return;
  }
  const temp = await mkdtemp(join(tmpdir(), 'lathe-bench-emb-'));
  try {
    const fx = await writeBertFixtures(temp);
    const modelsDir = join(temp, 'models');
    const ids = ['input_ids', 'attention_mask', 'token_type_ids'];
    await writeManifest(modelsDir, 'bert-mini', {
      task: 'feature-extraction',
      source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
      inputs: ids.map((name) => ({ name, datatype: 'INT64', shape: [-1] })),
      outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, 32] }],
      maxBatchSize: 64,
      instances: 2,
      intraOpThreads: 1,
      parameters: { pooling: 'mean', normalize: true },
    });
    const glove = JSON.parse(await readFile(join(ROOT, 'models/glove-100d/1/model.json'), 'utf8')) as Record<string, unknown>;
    await writeManifest(modelsDir, 'glove-100d', { ...glove, source: { huggingface: GLOVE, file: 'onnx/model.onnx' } });
    configureTransformers(temp);
    const gloveParams = glove.parameters as { output?: string };
    const allModels: BenchModel[] = [
      {
        name: 'glove-100d',
        folder: GLOVE,
        output: gloveParams.output ?? 'sentence_embedding',
        pooling: 'none',
        inputs: (glove.inputs as Array<{ name: string }>).map((i) => i.name),
      },
      { name: 'bert-mini', folder: fx.encoder.dir, output: 'last_hidden_state', pooling: 'mean', inputs: ids },
    ];
    const models = allModels.filter((m) => ONLY === undefined || m.name === ONLY);
    if (models.length === 0) throw new Error(`--only ${ONLY}: no such model (${allModels.map((m) => m.name).join(', ')})`);
    const limits = new Map<string, InProcessResult>();
    const ceilings = new Map<string, InProcessResult>();
    // The cheapest CPU per input found in-process: one call of all the concurrent inputs on a
    // single-threaded session (no idle or spinning second thread), for the bound.
    const leanest = new Map<string, InProcessResult>();
    for (const m of models) {
      const tokenizer = await loadTokenizer(m.folder);
      for (const c of CONCURRENCIES) {
        for (const b of BATCHES) {
          limits.set(`${m.name}/${c}/${b}`, await inProcess(m, tokenizer, c, b));
          ceilings.set(`${m.name}/${c}/${b}`, c === 1 ? limits.get(`${m.name}/${c}/${b}`)! : await inProcess(m, tokenizer, 1, c * b));
          if (c === 16) leanest.set(`${m.name}/${c}/${b}`, await inProcess(m, tokenizer, 1, c * b, 1));
        }
      }
    }
    const lathe = await startLathe(ROOT, [], { LATHE_MODELS_DIR: modelsDir, LATHE_MODELS_PRELOAD: '*' });
    const floorScript = fileURLToPath(new URL('./floor-server.js', import.meta.url));
    const widths = { 'glove-100d': 100, 'bert-mini': 32 };
    const floorServers: RunningServer[] = [];
    const http = new Map<string, HttpCell>();
    const floors = new Map<string, HttpCell[]>();
    try {
      // Started inside the try, so Lathe is stopped when one of them cannot start.
      for (const stack of ['fastify', 'nest'] as const)
        floorServers.push(await startForked(floorScript, { stack, widths }, `${stack} floor server`));
      for (const m of models) {
        for (const c of CONCURRENCIES) {
          for (const b of BATCHES) {
            http.set(`${m.name}/${c}/${b}`, await measureHttp(lathe, m.name, c, b));
            if (c !== 16) continue;
            const cells: HttpCell[] = [];
            for (const server of floorServers) cells.push(await measureHttp(server, m.name, c, b));
            floors.set(`${m.name}/${c}/${b}`, cells);
          }
        }
      }
    } finally {
      for (const p of await lathe.stop()) if (!p.includes('NO API KEYS')) console.log(`note: ${p}`);
      for (const server of floorServers) for (const p of await server.stop()) console.log(`note: ${p}`);
    }
    console.log(`bench/embeddings: ${durationMs / 1000} s per cell; inputs per second\n`);
    console.log(
      '| model | concurrency | inputs/request | limit inputs/s | ceiling inputs/s | Lathe inputs/s | Lathe p50 ms | Lathe / limit | Lathe / ceiling | Lathe CPU µs/request: main / other threads / load generator | floor CPU µs/request: Fastify / NestJS | floor HTTP-thread µs/request: Fastify / NestJS | pipeline CPU µs/request | bound / limit: Fastify / NestJS | one HTTP thread bound / limit: Fastify / NestJS |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    const verdicts: string[] = [];
    const cores = availableParallelism();
    const us = (ms: number) => (ms * 1000).toFixed(0);
    for (const m of models) {
      for (const c of CONCURRENCIES) {
        for (const b of BATCHES) {
          const key = `${m.name}/${c}/${b}`;
          const l = limits.get(key)!;
          const h = http.get(key)!;
          const ceiling = ceilings.get(key)!;
          const ratio = h.perS / l.perS;
          const cpu = h.cpu ? `${us(h.cpu.httpThreadMs)} / ${us(h.cpu.otherThreadsMs)} / ${us(h.cpu.loadGeneratorMs)}` : '-';
          const f = floors.get(key);
          const lean = leanest.get(key);
          let floorCells = '- | - | - | - | -';
          if (f && lean) {
            // The most a server on each stack could do: its floor's CPU per request plus the
            // pipeline's cheapest CPU per request (inputs batched across requests), on all cores.
            const floorUs = f.map((cell) =>
              cell.cpu ? (cell.cpu.httpThreadMs + cell.cpu.otherThreadsMs + cell.cpu.loadGeneratorMs) * 1000 : NaN,
            );
            const pipelineUs = lean.cpuUsPerInput * b;
            const bounds = floorUs.map((us) => (((cores * 1e6) / (us + pipelineUs)) * b) / l.perS);
            // What the floor's HTTP thread alone allows: one thread answers every request.
            const httpUs = f.map((cell) => (cell.cpu ? cell.cpu.httpThreadMs * 1000 : NaN));
            const threadBounds = httpUs.map((us) => ((1e6 / us) * b) / l.perS);
            floorCells =
              `${floorUs.map((us) => us.toFixed(0)).join(' / ')} | ${httpUs.map((us) => us.toFixed(0)).join(' / ')} | ` +
              `${pipelineUs.toFixed(0)} | ${bounds.map((x) => x.toFixed(2)).join(' / ')} | ${threadBounds.map((x) => x.toFixed(2)).join(' / ')}`;
            if (b === 1 && h.cpu) {
              const nestBound = bounds[1]!;
              const httpRatio = (h.cpu.httpThreadMs * 1000) / httpUs[1]!;
              if (m.name === 'glove-100d')
                verdicts.push(
                  `${m.name}, 1 per request: ${(ratio / nestBound).toFixed(2)}x the NestJS bound ${ratio / nestBound >= TARGET ? 'PASS' : 'FAIL'}`,
                );
              verdicts.push(
                `${m.name}, 1 per request: HTTP-thread CPU ${us(h.cpu.httpThreadMs)} µs = ${httpRatio.toFixed(2)}x the NestJS floor's ${httpRatio <= HTTP_CPU_TARGET ? 'PASS' : 'FAIL'} (target <= ${HTTP_CPU_TARGET}x)`,
              );
            }
          }
          console.log(
            `| ${m.name} | ${c} | ${b} | ${l.perS.toFixed(0)} | ${ceiling.perS.toFixed(0)} | ${h.perS.toFixed(0)} | ${h.p50.toFixed(1)} | ${ratio.toFixed(2)} | ${(h.perS / ceiling.perS).toFixed(2)} | ${cpu} | ${floorCells} |${h.failures ? ` ${h.failures} failed` : ''}`,
          );
          if (c === 16) verdicts.push(`${m.name}, ${b} per request: ${ratio.toFixed(2)}x ${ratio >= TARGET ? 'PASS' : 'FAIL'}`);
        }
      }
    }
    console.log(
      `\nlimit: ${CONCURRENCIES.join(' or ')} concurrent in-process callers, each call with one request's inputs; ceiling: all their inputs in one call`,
    );
    console.log(
      'floor: a bare Fastify route, and the same handler as a NestJS controller on its Fastify adapter, parsing the same request and answering base64 vectors',
    );
    console.log('  of the same width with no tokenizer or model (server + load generator CPU);');
    console.log(
      "pipeline CPU: the in-process pipeline's CPU time per request when all the concurrent inputs go in one call on a single-threaded session;",
    );
    console.log(
      'bound: cores / (floor CPU + pipeline CPU) in inputs/s, over the limit: the most a server on that stack could reach here with this load generator',
    );
    console.log(
      "one HTTP thread's bound: 1 s / the floor's HTTP-thread CPU per request, over the limit: the most one HTTP thread on that stack answers, whatever the cores",
    );
    console.log(
      `targets: Lathe >= ${TARGET}x the limit at concurrency 16 (bert-mini), >= ${TARGET}x the NestJS bound (glove-100d)\n  ${verdicts.join('\n  ')}`,
    );
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

await main();

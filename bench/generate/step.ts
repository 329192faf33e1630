/**
 * Decode-step benchmark for the generated bench-size decoder (6 layers, hidden 512, 8 heads / 4
 * key-value heads, vocabulary 32000; `test/support/decoder-model.ts`): how long ONNX Runtime takes for
 * one generation step (one new token per row, the key/value cache of `past` earlier tokens fed back)
 * at batch 1 and 16, plus a prompt pass, on this machine's CPU. It tells whether model compute or
 * the server around it dominates a generation request. The model is built once into a cache folder
 * (about 200 MB, seconds) and reused.
 *
 * Usage (after `npx tsc -p tsconfig.json`):
 *   node dist/bench/generate/step.js [--cache DIR] [--steps 20] [--threads N] [--past 128,1024] [--batch 1,16]
 * Prints per setup the median (p50) and p90 step time, the mean CPU time per step (all threads), tokens per second, and the machine's MatMul
 * rate measured in the same run, for scale. Always exits 0.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { cachedDecoderModel } from '../../test/support/decoder-model.js';
import { random } from '../../test/support/models.js';
import { percentile } from '../oip/report.js';
import { matMulProbe } from '../train/matmul.js';

disableOnnxRuntimeTelemetry();

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const numbers = (s: string) => s.split(',').map((v) => Math.max(1, Math.floor(Number(v))));

const cacheRoot = option('cache', join(tmpdir(), 'lathe-bench-cache'));
const steps = numbers(option('steps', '20'))[0]!;
const threads = numbers(option('threads', String(availableParallelism())))[0]!;
const pasts = numbers(option('past', '128,1024'));
const batches = numbers(option('batch', '1,16'));

const built = performance.now();
const model = await cachedDecoderModel(cacheRoot, 'bench');
const { layers, kvHeads, headDim, vocab, hidden, intermediate, heads } = model.dims;
console.log(`model: ${model.dir} (ready in ${((performance.now() - built) / 1000).toFixed(1)} s)`);

const session = await ort.InferenceSession.create(join(model.dir, 'onnx/model.onnx'), {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});

/** Multiply-adds of the weight matrices per token (q, k, v, o, gate, up, down per layer; lm_head). */
const WEIGHT_MACS = layers * (hidden * heads * headDim * 2 + hidden * kvHeads * headDim * 2 + 3 * hidden * intermediate) + hidden * vocab;

const rand = random(7);
const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

function feeds(batch: number, past: number, length: number): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {
    input_ids: int64(
      Array.from({ length: batch * length }, () => Math.floor(rand() * (vocab - 3))),
      [batch, length],
    ),
    attention_mask: int64(new Array<number>(batch * (past + length)).fill(1), [batch, past + length]),
    position_ids: int64(
      Array.from({ length: batch * length }, (_, i) => past + (i % length)),
      [batch, length],
    ),
  };
  const size = batch * kvHeads * past * headDim;
  for (let i = 0; i < layers; i += 1) {
    for (const kind of ['key', 'value']) {
      const data = new Float32Array(size);
      for (let j = 0; j < size; j += 1) data[j] = rand() * 2 - 1;
      f[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', data, [batch, kvHeads, past, headDim]);
    }
  }
  return f;
}

interface Row {
  setup: string;
  p50: number;
  p90: number;
  /** Mean CPU time per run over all threads: less sensitive than wall time to neighbours on a shared machine. */
  cpuMs: number;
  tokens: number;
  gflop: number;
}

async function measure(setup: string, batch: number, past: number, length: number): Promise<Row> {
  const input = feeds(batch, past, length);
  for (let i = 0; i < 2; i += 1) await session.run(input);
  const ms: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < steps; i += 1) {
    const started = performance.now();
    await session.run(input);
    ms.push(performance.now() - started);
  }
  // Attention: q·k and probs·v for every head over past + length keys (an upper bound for the prompt pass).
  const macs = batch * length * (WEIGHT_MACS + layers * heads * headDim * 2 * (past + length));
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / steps;
  return { setup, p50: percentile(ms, 0.5), p90: percentile(ms, 0.9), cpuMs, tokens: batch * length, gflop: (2 * macs) / 1e9 };
}

const rows: Row[] = [];
for (const past of pasts) {
  for (const batch of batches) rows.push(await measure(`decode batch ${batch}, past ${past}`, batch, past, 1));
}
rows.push(await measure('prompt batch 1, 128 tokens', 1, 0, 128));

const probe = await matMulProbe();
const rate = await probe.measure();
await probe.release();
await session.release();

console.log(
  `\nONNX Runtime CPU, ${threads} intra-op thread(s), ${availableParallelism()} core(s); ${steps} timed runs per row after 2 warm-up runs`,
);
console.log(
  `weights: ${((WEIGHT_MACS * 4) / 1e6).toFixed(0)} MB of matrices read per step; MatMul 2048² rate: ${rate.toFixed(1)} GFLOP/s\n`,
);
console.log('setup                          p50 ms   p90 ms   CPU ms   tokens/s   GFLOP/s (share of MatMul rate)');
for (const r of rows) {
  const achieved = r.gflop / (r.p50 / 1000);
  console.log(
    `${r.setup.padEnd(30)} ${r.p50.toFixed(2).padStart(7)}  ${r.p90.toFixed(2).padStart(7)}  ${r.cpuMs.toFixed(1).padStart(7)}  ${((r.tokens * 1000) / r.p50).toFixed(0).padStart(9)}   ${achieved.toFixed(1).padStart(7)} (${((100 * achieved) / rate).toFixed(0)}%)`,
  );
}

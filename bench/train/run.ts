/**
 * Training-step benchmark (acceptance target of the training-core issue): seconds per epoch of
 * 10 000 cached 384-dimensional feature vectors, 10 classes, an MLP head with 256 hidden units,
 * batch 64, against this machine's single-precision matrix-multiply rate measured in the same run
 * (ONNX Runtime multiplying 2048 × 2048 matrices, one thread per core). Training runs on one
 * intra-op thread (TrainOptions.threads' default) unless a row says otherwise.
 *
 * Usage (after `npx tsc -p tsconfig.json`): node dist/bench/train/run.js [--repeats 5]
 * Each setup trains one warm-up epoch, then `repeats` epochs, each right after a MatMul rate
 * measurement, so a noisy neighbour moves both sides of a ratio together. Prints medians and
 * PASS/FAIL; always exits 0.
 */
import { availableParallelism, cpus } from 'node:os';
import { percentile } from '../oip/report.js';
import { referenceGradient } from '../../src/training/reference.js';
import { clusters } from '../../src/training/synthetic-data.js';
import { Trainer } from '../../src/training/trainer.js';
import { TrainingRun } from '../../src/training/training-worker.js';
import type { HeadSpec, TrainOptions } from '../../src/training/types.js';
import { matMulProbe, type MatMulProbe } from './matmul.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

const N = 10_000;
const D = 384;
const HIDDEN = 256;
const CLASSES = 10;
const BATCH = 64;
const TARGET = 0.25;
/** Matrix-product work per example: forward x·W1, h·W2; backward dW2, dH = dZ·W2ᵀ, dW1 (none into the frozen features). */
const FLOP_PER_EXAMPLE = 2 * D * HIDDEN + 2 * HIDDEN * CLASSES + 2 * HIDDEN * CLASSES + 2 * HIDDEN * CLASSES + 2 * D * HIDDEN;
const EPOCH_GFLOP = (N * FLOP_PER_EXAMPLE) / 1e9;

const repeats = (() => {
  const i = process.argv.indexOf('--repeats');
  return i > 0 && Number(process.argv[i + 1]) > 0 ? Math.floor(Number(process.argv[i + 1])) : 5;
})();

const HEAD: HeadSpec = { kind: 'mlp', inputDim: D, outputDim: CLASSES, hidden: HIDDEN, activation: 'relu' };
const BASE: TrainOptions = {
  head: HEAD,
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', learningRate: 1e-3 },
  epochs: repeats + 1,
  batchSize: BATCH,
  seed: 1,
};

interface Setup {
  label: string;
  options: TrainOptions;
  target?: boolean;
}

const SETUPS: Setup[] = [
  { label: 'adam, 32 steps per call, 1 thread (defaults)', options: BASE, target: true },
  { label: 'sgd, 32 steps per call', options: { ...BASE, optimizer: { kind: 'sgd', learningRate: 0.05 } } },
  {
    label: 'momentum, weight decay, dropout 0.1, gelu',
    options: {
      ...BASE,
      head: { ...HEAD, activation: 'gelu', dropout: 0.1 },
      optimizer: { kind: 'momentum', learningRate: 0.01, weightDecay: 1e-4 },
    },
  },
  { label: `adam, ${availableParallelism()} intra-op threads`, options: { ...BASE, threads: availableParallelism() } },
  { label: 'adam, 1 step per call', options: { ...BASE, stepsPerRun: 1 } },
];

interface Row {
  label: string;
  epochSeconds: number[];
  matMulGflops: number[];
  ratios: number[];
  final?: string;
  note?: string;
}

async function measureSetup(setup: Setup, probe: MatMulProbe, data: ReturnType<typeof clusters>): Promise<Row> {
  const row: Row = { label: setup.label, epochSeconds: [], matMulGflops: [], ratios: [] };
  const trainer = new Trainer(setup.options, data);
  try {
    await trainer.runEpoch();
    for (let r = 0; r < repeats; r += 1) {
      const rate = await probe.measure(3);
      const epoch = await trainer.runEpoch();
      row.matMulGflops.push(rate);
      row.epochSeconds.push(epoch.seconds);
      row.ratios.push(EPOCH_GFLOP / epoch.seconds / rate);
      row.final = `loss ${epoch.trainLoss.toFixed(4)}, accuracy ${(epoch.trainAccuracy! * 100).toFixed(1)}%`;
    }
  } finally {
    await trainer.close();
  }
  return row;
}

/** The same default setup through the worker thread a job runner uses; wall time between epoch messages. */
async function measureWorker(data: ReturnType<typeof clusters>, matMulRate: number): Promise<Row> {
  const stamps: number[] = [];
  let final = '';
  const run = TrainingRun.start(
    { options: BASE, train: data },
    {
      onEpoch: (m) => {
        stamps.push(performance.now());
        final = `loss ${m.trainLoss.toFixed(4)}, accuracy ${(m.trainAccuracy! * 100).toFixed(1)}%`;
      },
    },
  );
  await run.done;
  const epochSeconds = stamps.slice(1).map((t, i) => (t - stamps[i]!) / 1000);
  return {
    label: 'adam, 32 steps per call, in a TrainingRun worker',
    epochSeconds,
    matMulGflops: [matMulRate],
    ratios: epochSeconds.map((s) => EPOCH_GFLOP / s / matMulRate),
    final,
    note: 'ratio against the median MatMul rate of the other rows (not interleaved: it would compete with the worker)',
  };
}

/** The tests' float64 TypeScript reference on a few batches, extrapolated to an epoch. */
function measureReference(data: ReturnType<typeof clusters>, matMulRate: number): Row {
  const params = new Float64Array(D * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES).map((_, i) => ((i % 17) - 8) / 100);
  const targets = new Float64Array(BATCH * CLASSES);
  const batches = 3;
  const started = performance.now();
  for (let b = 0; b < batches; b += 1) {
    referenceGradient(HEAD, 'cross-entropy', params, {
      x: data.features.subarray(b * BATCH * D, (b + 1) * BATCH * D),
      targets,
      rows: BATCH,
    });
  }
  const perBatch = (performance.now() - started) / 1000 / batches;
  const epoch = perBatch * Math.ceil(N / BATCH);
  return {
    label: 'plain TypeScript reference (float64, gradient only)',
    epochSeconds: [epoch],
    matMulGflops: [matMulRate],
    ratios: [EPOCH_GFLOP / epoch / matMulRate],
    note: `extrapolated from ${batches} batches`,
  };
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

function printRows(rows: Row[]): void {
  console.log('| setup | epoch s (p50) | GFLOP/s (p50) | MatMul GFLOP/s (p50) | ratio p50 (min - max) | last epoch |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    const epoch = percentile(r.epochSeconds, 0.5);
    const ratio = `${fmt(percentile(r.ratios, 0.5), 2)} (${fmt(Math.min(...r.ratios), 2)} - ${fmt(Math.max(...r.ratios), 2)})`;
    console.log(
      `| ${r.label} | ${fmt(epoch)} | ${fmt(EPOCH_GFLOP / epoch, 1)} | ${fmt(percentile(r.matMulGflops, 0.5), 1)} | ${ratio} | ${r.final ?? '-'} |`,
    );
  }
  for (const r of rows) if (r.note) console.log(`  ${r.label}: ${r.note}`);
}

async function main(): Promise<void> {
  console.log(
    `bench/train: ${N} examples x ${D} features, ${CLASSES} classes, MLP ${HIDDEN} hidden, batch ${BATCH}; ` +
      `${EPOCH_GFLOP.toFixed(3)} GFLOP of matrix products per epoch; node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}); ` +
      `${repeats} measured epochs per setup after 1 warm-up\n`,
  );
  const data = clusters(N, D, CLASSES, 1);
  const probe = await matMulProbe();
  const rows: Row[] = [];
  try {
    for (const setup of SETUPS) rows.push(await measureSetup(setup, probe, data));
  } finally {
    await probe.release();
  }
  const matMulRate = percentile(
    rows.flatMap((r) => r.matMulGflops),
    0.5,
  );
  rows.push(await measureWorker(data, matMulRate));
  rows.push(measureReference(data, matMulRate));
  printRows(rows);
  const target = rows[SETUPS.findIndex((s) => s.target)]!;
  const ratio = percentile(target.ratios, 0.5);
  console.log(`\ntarget: ${target.label} >= ${TARGET}x the MatMul rate: ${fmt(ratio, 2)}x ${ratio >= TARGET ? 'PASS' : 'FAIL'}`);
}

main()
  .catch((err: unknown) => console.log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
  .finally(() => {
    process.exitCode = 0;
  });

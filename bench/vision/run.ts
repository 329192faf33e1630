/**
 * Image classification benchmark (acceptance point 6 of the vision and speech issue):
 * POST /v1/vision/classify with MobileNetV2 (a JPEG photo as the raw body) at concurrency 1 and 16,
 * against the limit: the same decode + preprocess (Lathe's own imageToTensor, sharp) + session.run
 * done in-process by this script, with no HTTP, batching the concurrent images into one run.
 *
 * Usage (after `npx tsc -p tsconfig.json`): node dist/bench/vision/run.js [--duration 8]
 * Needs ../shared/models (MobileNetV2 and the finch photo). Prints PASS/FAIL and always exits 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { parseManifest } from '../../src/contracts/model-manifest.js';
import { imageToTensor } from '../../src/vision/image-input.js';
import { runLoad } from '../oip/load.js';
import { percentile } from '../oip/report.js';
import { startLathe } from '../oip/servers.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHARED = join(ROOT, '../shared/models');
const CONCURRENCIES = [1, 16];
const TARGET = 0.8;
const WARMUP_MS = 1000;
const MAX_PIXELS = 50_000_000;

const durationMs = (() => {
  const i = process.argv.indexOf('--duration');
  return i > 0 ? Number(process.argv[i + 1]) * 1000 : 8000;
})();

interface Cell {
  itemsPerS: number;
  p50: number;
  p99: number;
}

/** In-process: `concurrency` images decoded at once (libvips threads), then one batched run. */
async function limit(photo: Buffer, concurrency: number): Promise<Cell> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(ROOT, 'models/mobilenetv2/1/model.json'), 'utf8')), 'mobilenetv2');
  const session = await ort.InferenceSession.create(join(SHARED, 'mobilenetv2-12-int8.onnx'), {
    intraOpNumThreads: availableParallelism(),
    graphOptimizationLevel: 'all',
  });
  const latencies: number[] = [];
  let images = 0;
  const round = async () => {
    const tensors = await Promise.all(
      Array.from({ length: concurrency }, () =>
        imageToTensor(photo, manifest.image!, { maxImagePixels: MAX_PIXELS, maxImageSide: 16_384, maxImageAspectRatio: 64 }),
      ),
    );
    const batch = new Float32Array(concurrency * 3 * 224 * 224);
    tensors.forEach((t, i) => batch.set(t, i * t.length));
    const out = await session.run({ input: new ort.Tensor('float32', batch, [concurrency, 3, 224, 224]) });
    const logits = out.output!.data as Float32Array;
    if (argmax(logits.subarray(0, 1000)) !== 12) throw new Error('in-process run did not find the house finch');
  };
  const warmEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmEnd) await round();
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    await round();
    latencies.push(performance.now() - t0);
    images += concurrency;
  }
  await session.release();
  return { itemsPerS: images / (durationMs / 1000), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}

async function main(): Promise<void> {
  if (!existsSync(join(SHARED, 'mobilenetv2-12-int8.onnx'))) {
    console.log(`skipped: ${SHARED} (MobileNetV2 and the finch photo) is missing`);
    return;
  }
  const photo = readFileSync(join(SHARED, 'imagenet_finch.jpeg'));
  console.log(
    `bench/vision: MobileNetV2 int8 on a ${photo.length}-byte JPEG; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${durationMs / 1000} s per cell\n`,
  );
  const limits = new Map<number, Cell>();
  for (const c of CONCURRENCIES) limits.set(c, await limit(photo, c));

  const lathe = await startLathe(ROOT, [], {
    LATHE_MODELS_DIR: join(ROOT, 'models'),
    LATHE_MODELS_PRELOAD: 'mobilenetv2',
    LATHE_MODEL_FILES_DIR: SHARED,
  });
  const http = new Map<number, Cell & { bad: number; failures: number }>();
  try {
    for (const c of CONCURRENCIES) {
      const result = await runLoad(
        { port: lathe.port, path: '/v1/vision/classify?model=mobilenetv2&top_k=1', body: photo, headers: { 'content-type': 'image/jpeg' } },
        {
          concurrency: c,
          warmupMs: WARMUP_MS,
          durationMs,
          verify: (reply) => {
            const top = (JSON.parse(reply.body.toString('utf8')) as Array<{ label: string }>)[0]?.label;
            return top?.startsWith('house finch') ? undefined : `top-1 was ${top}`;
          },
        },
      );
      const failures = [...result.failures.values()].reduce((n, f) => n + f.count, 0) + result.networkErrors;
      http.set(c, {
        itemsPerS: result.requestsPerS,
        p50: percentile(result.latenciesMs, 0.5),
        p99: percentile(result.latenciesMs, 0.99),
        bad: result.bad,
        failures,
      });
    }
  } finally {
    const problems = await lathe.stop();
    for (const p of problems) console.log(`note: ${p}`);
  }

  console.log('| concurrency | limit images/s | limit p50 / p99 ms (per batch) | Lathe images/s | Lathe p50 / p99 ms | Lathe / limit |');
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

await main();

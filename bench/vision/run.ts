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
import ort from 'onnxruntime-node';
import { parseManifest } from '../../src/contracts/model-manifest.js';
import { imageToTensor } from '../../src/vision/image-input.js';
import { startLathe } from '../oip/servers.js';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { type Cell, CONCURRENCIES, durationMs, httpCells, inProcessCell, LIMITS, printComparison, ROOT, SHARED } from './cells.js';

// In-process sessions here and the Lathe child (which inherits the environment) send no telemetry.
disableOnnxRuntimeTelemetry();

/** In-process: `concurrency` images decoded at once (libvips threads), then one batched run. */
async function limit(photo: Buffer, concurrency: number): Promise<Cell> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(ROOT, 'models/mobilenetv2/1/model.json'), 'utf8')), 'mobilenetv2');
  const session = await ort.InferenceSession.create(join(SHARED, 'mobilenetv2-12-int8.onnx'), {
    intraOpNumThreads: availableParallelism(),
    graphOptimizationLevel: 'all',
  });
  const cell = await inProcessCell(concurrency, async (n) => {
    const tensors = await Promise.all(Array.from({ length: n }, () => imageToTensor(photo, manifest.image!, LIMITS)));
    const batch = new Float32Array(n * 3 * 224 * 224);
    tensors.forEach((t, i) => batch.set(t, i * t.length));
    const out = await session.run({ input: new ort.Tensor('float32', batch, [n, 3, 224, 224]) });
    const logits = out.output!.data as Float32Array;
    if (argmax(logits.subarray(0, 1000)) !== 12) throw new Error('in-process run did not find the house finch');
  });
  await session.release();
  return cell;
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
  try {
    const http = await httpCells(lathe.port, '/v1/vision/classify?model=mobilenetv2&top_k=1', photo, 'image/jpeg', (reply) => {
      const top = (JSON.parse(reply.body.toString('utf8')) as Array<{ label: string }>)[0]?.label;
      return top?.startsWith('house finch') ? undefined : `top-1 was ${top}`;
    });
    printComparison(limits, http, 'per batch');
  } finally {
    const problems = await lathe.stop();
    for (const p of problems) console.log(`note: ${p}`);
  }
}

await main();

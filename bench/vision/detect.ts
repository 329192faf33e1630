/**
 * Object detection benchmark: POST /v1/vision/detect with BlazeFace front (the astronaut photo,
 * 512 x 512 PNG, as the raw body) at concurrency 1 and 16, against the limit: the same pipeline in
 * this process with no HTTP: decode and letterbox (Lathe's own imageForDetector, sharp) for the
 * concurrent images at once, session.run for each (the graph's batch is fixed at 1) on a session
 * with one thread per core, then the same decoding and weighted NMS (detectionsFrom).
 *
 * Usage (after `npx tsc -p tsconfig.json`): node dist/bench/vision/detect.js [--duration 8]
 * Needs ../shared/models (the photo). Prints PASS/FAIL and always exits 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { disableOnnxRuntimeTelemetry } from '../../src/config/app-config.js';
import { parseManifest } from '../../src/contracts/model-manifest.js';
import type { Tensor } from '../../src/contracts/tensor.js';
import { type DetectedObject, detectionsFrom } from '../../src/vision/detection/detection-pipeline.js';
import { detectionParameters } from '../../src/vision/detection/detection-parameters.js';
import { imageForDetector } from '../../src/vision/image-input.js';
import { startLathe } from '../oip/servers.js';
import { type Cell, CONCURRENCIES, durationMs, httpCells, inProcessCell, LIMITS, printComparison, ROOT, SHARED } from './cells.js';

disableOnnxRuntimeTelemetry();

const MODEL = 'blazeface-front';

/** Exactly one face, where the hand-marked box says (IoU >= 0.5 against (175, 70)-(270, 180)). */
function oneFace(objects: DetectedObject[]): string | undefined {
  if (objects.length !== 1) return `${objects.length} faces`;
  const b = objects[0]!.box;
  const w = Math.min(b.xmax, 270) - Math.max(b.xmin, 175);
  const h = Math.min(b.ymax, 180) - Math.max(b.ymin, 70);
  const inter = w > 0 && h > 0 ? w * h : 0;
  const iou = inter / ((b.xmax - b.xmin) * (b.ymax - b.ymin) + 95 * 110 - inter);
  return iou >= 0.5 ? undefined : `face at ${JSON.stringify(b)}`;
}

async function limit(photo: Buffer, concurrency: number): Promise<Cell> {
  const manifest = parseManifest(JSON.parse(readFileSync(join(ROOT, `models/${MODEL}/1/model.json`), 'utf8')), MODEL);
  const source = manifest.source as { npm: string; path: string };
  const file = join(createRequire(import.meta.url).resolve(`${source.npm}/package.json`), '..', source.path);
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: availableParallelism(),
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const params = detectionParameters.parse(manifest.parameters);
  const pre = manifest.image!;
  const settings = { threshold: params.threshold, iouThreshold: params.iouThreshold, maxDetections: params.maxDetections };
  const cell = await inProcessCell(concurrency, async (n) => {
    const inputs = await Promise.all(Array.from({ length: n }, () => imageForDetector(photo, pre, LIMITS)));
    for (const { data, placement } of inputs) {
      const out = await session.run({ 'input:0': new ort.Tensor('float32', data, [1, pre.height, pre.width, 3]) });
      const outputs: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(out)) outputs[name] = { datatype: 'FP32', shape: [...t.dims], data: t.data as Float32Array };
      const problem = oneFace(detectionsFrom(params, outputs, pre, placement, settings, ['face']));
      if (problem) throw new Error(`in-process run: ${problem}`);
    }
  });
  await session.release();
  return cell;
}

async function main(): Promise<void> {
  if (!existsSync(join(SHARED, 'astronaut.png'))) {
    console.log(`skipped: ${SHARED} (the astronaut photo) is missing`);
    return;
  }
  const photo = readFileSync(join(SHARED, 'astronaut.png'));
  console.log(
    `bench/vision/detect: ${MODEL} on a ${photo.length}-byte 512 x 512 PNG; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${durationMs / 1000} s per cell\n`,
  );
  const limits = new Map<number, Cell>();
  for (const c of CONCURRENCIES) limits.set(c, await limit(photo, c));
  const lathe = await startLathe(ROOT, [], { LATHE_MODELS_DIR: join(ROOT, 'models'), LATHE_MODELS_PRELOAD: MODEL });
  try {
    const http = await httpCells(lathe.port, `/v1/vision/detect?model=${MODEL}`, photo, 'image/png', (reply) =>
      oneFace(JSON.parse(reply.body.toString('utf8')) as DetectedObject[]),
    );
    printComparison(limits, http, 'per round');
  } finally {
    const problems = await lathe.stop();
    for (const p of problems) console.log(`note: ${p}`);
  }
}

await main();

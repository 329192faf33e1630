/**
 * Band-limited resampling: a Kaiser-windowed sinc low-pass evaluated at each output instant, from a
 * table of filter phases. The cutoff sits just below the lower of the two Nyquist frequencies, so
 * downsampling does not alias (Julius O. Smith's bandlimited interpolation, as in libsamplerate's
 * sinc converters and soxr, at a modest quality setting).
 */

/** Zero crossings of the sinc on each side: transition band about 1/16 of the cutoff. */
const ZERO_CROSSINGS = 16;
/** Where the pass band ends, as a fraction of the lower Nyquist frequency. */
const ROLLOFF = 0.94;
/** Kaiser beta 8.6: stop band about -90 dB. */
const KAISER_BETA = 8.6;
/** At most this many filter phases; beyond it, an output instant is rounded to the nearest phase. */
const MAX_PHASES = 1024;

/** Audio in [-1, 1] at `fromRate` to `toRate`, clamped to [-1, 1] (the filter's ringing can overshoot). Returns `input` itself when the rates are equal. */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return input;
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  const outLength = Math.round((input.length * up) / down);
  const out = new Float32Array(outLength);
  if (outLength === 0) return out;
  // Cutoff in cycles per input sample (0.5 = input Nyquist).
  const cutoff = 0.5 * ROLLOFF * Math.min(1, toRate / fromRate);
  const half = Math.ceil(ZERO_CROSSINGS / (2 * cutoff));
  const taps = 2 * half;
  const phases = Math.min(up, MAX_PHASES);
  const table = filterTable(phases, taps, half, cutoff);
  const last = input.length - 1;
  for (let n = 0; n < outLength; n += 1) {
    // Output n sits at input position n * down / up = base + frac.
    const num = n * down;
    const base = Math.floor(num / up);
    const frac = (num - base * up) / up;
    const phase = phases === up ? num - base * up : Math.round(frac * phases) % phases;
    const shift = phases !== up && Math.round(frac * phases) === phases ? 1 : 0;
    const first = base + shift - half + 1;
    const row = phase * taps;
    let acc = 0;
    if (first >= 0 && first + taps - 1 <= last) {
      // taps is even: two accumulators let the multiplies overlap.
      let a0 = 0;
      let a1 = 0;
      for (let k = 0; k < taps; k += 2) {
        a0 += table[row + k]! * input[first + k]!;
        a1 += table[row + k + 1]! * input[first + k + 1]!;
      }
      acc = a0 + a1;
    } else {
      for (let k = 0; k < taps; k += 1) {
        const i = first + k;
        if (i >= 0 && i <= last) acc += table[row + k]! * input[i]!;
      }
    }
    out[n] = acc > 1 ? 1 : acc < -1 ? -1 : acc;
  }
  return out;
}

/**
 * Row p holds the filter for an output instant p/phases of a sample after an input sample:
 * tap k weighs input (base - half + 1 + k). Each row is normalised to unit DC gain.
 */
function filterTable(phases: number, taps: number, half: number, cutoff: number): Float32Array {
  const weights = new Float64Array(phases * taps);
  const i0Beta = besselI0(KAISER_BETA);
  for (let p = 0; p < phases; p += 1) {
    const frac = p / phases;
    let sum = 0;
    for (let k = 0; k < taps; k += 1) {
      const t = k - half + 1 - frac;
      const x = t / half;
      const window = Math.abs(x) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - x * x)) / i0Beta;
      const w = 2 * cutoff * sinc(2 * cutoff * t) * window;
      weights[p * taps + k] = w;
      sum += w;
    }
    for (let k = 0; k < taps; k += 1) weights[p * taps + k]! /= sum;
  }
  // Float32 halves the table's cache footprint; its rounding (1e-7) is far below the stop band.
  return Float32Array.from(weights);
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Modified Bessel function of the first kind, order 0, by its power series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k += 1) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

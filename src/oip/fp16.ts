/**
 * IEEE 754 half precision (binary16) <-> JS number. Node 20 has neither Float16Array nor
 * Math.f16round, so FP16 tensors are held as raw bits in a Uint16Array and converted here.
 */

const FP16_NAN = 0x7e00;
const FP16_INFINITY = 0x7c00;
/** Halfway between the largest half (65504) and 2^16: from here on, rounding gives Infinity. */
const OVERFLOW_THRESHOLD = 65520;
const MIN_NORMAL = 2 ** -14;

/**
 * The half nearest to `x`, ties to even, as bits. Rounds from the full double, not via float32,
 * so there is no double rounding. NaN becomes the quiet NaN 0x7e00; -0 keeps its sign.
 */
export function float32ToFp16Bits(x: number): number {
  if (Number.isNaN(x)) return FP16_NAN;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= OVERFLOW_THRESHOLD) return sign | FP16_INFINITY;
  // Subnormals are multiples of 2^-24; the rounded multiple 1024 is exactly the smallest normal.
  if (a < MIN_NORMAL) return sign | roundHalfEven(a * 2 ** 24);
  const e = exponentOf(a);
  // a * 2^(10-e) is in [1024, 2048); a carry to 2048 correctly bumps the exponent field.
  const significand = roundHalfEven(a * 2 ** (10 - e));
  return sign | (((e + 15) << 10) + (significand - 1024));
}

export function fp16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/** floor(log2(a)) for a positive finite double, corrected for Math.log2's rounding near powers of two. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/** Exact for the non-negative values below 2^52 used here: v - floor(v) is computed without error. */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const rest = v - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

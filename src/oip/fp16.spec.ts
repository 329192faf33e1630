import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { float32ToFp16Bits, fp16BitsToFloat32 } from './fp16.js';

function firstAtLeast(sorted: number[], x: number): number {
  let [lo, hi] = [0, sorted.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const isNaNBits = (bits: number) => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;

describe('float32ToFp16Bits', () => {
  const known: Array<[string, number, number]> = [
    ['1', 1, 0x3c00],
    ['-2', -2, 0xc000],
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['largest half', 65504, 0x7bff],
    ['65519 rounds down to the largest half', 65519, 0x7bff],
    ['65520 (halfway to 2^16) overflows', 65520, 0x7c00],
    ['-1e9 overflows to -Infinity', -1e9, 0xfc00],
    ['Infinity', Infinity, 0x7c00],
    ['-Infinity', -Infinity, 0xfc00],
    ['smallest subnormal 2^-24', 2 ** -24, 0x0001],
    ['largest subnormal', 1023 * 2 ** -24, 0x03ff],
    ['smallest normal 2^-14', 2 ** -14, 0x0400],
    ['0.1', 0.1, 0x2e66],
    ['1/3', 1 / 3, 0x3555],
    ['0.5', 0.5, 0x3800],
    ['tie 1 + 2^-11 goes to even', 1 + 2 ** -11, 0x3c00],
    ['tie 1 + 3*2^-11 goes to even', 1 + 3 * 2 ** -11, 0x3c02],
    ['just past the tie rounds up (no double rounding via float32)', 1 + 2 ** -11 + 2 ** -40, 0x3c01],
    ['subnormal tie 2^-25 goes to even zero', 2 ** -25, 0x0000],
    ['subnormal tie 3*2^-25 goes to even', 3 * 2 ** -25, 0x0002],
    ['just past 2^-25 rounds to the smallest subnormal', 2 ** -25 * (1 + 2 ** -20), 0x0001],
    ['largest subnormal + half a step carries into the smallest normal', 1023.5 * 2 ** -24, 0x0400],
    ['tiny negative underflows to -0', -1e-30, 0x8000],
    ['2047.5 carries into the next binade', 2047.5, 0x6800],
    ['NaN', NaN, 0x7e00],
  ];
  for (const [name, x, bits] of known) {
    it(`encodes ${name}`, () => assert.equal(float32ToFp16Bits(x), bits));
  }

  it('matches a nearest-value search with ties to even on random doubles', () => {
    // All finite non-negative halves in bit order, which is also value order.
    const halves = Array.from({ length: 0x7c00 }, (_, bits) => fp16BitsToFloat32(bits));
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 20000; n++) {
      const x = 2 ** (random() * 42 - 26) * (random() < 0.5 ? -1 : 1);
      const a = Math.abs(x);
      const hi = firstAtLeast(halves, a);
      let expected: number;
      if (hi === halves.length) expected = a >= 65520 ? 0x7c00 : 0x7bff;
      else if (halves[hi] === a || hi === 0) expected = hi;
      else {
        const lo = hi - 1;
        const [dLo, dHi] = [a - halves[lo]!, halves[hi]! - a];
        expected = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
      }
      if (x < 0) expected |= 0x8000;
      assert.equal(float32ToFp16Bits(x), expected, `x = ${x}`);
    }
  });
});

describe('fp16BitsToFloat32', () => {
  const known: Array<[number, number]> = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x2e66, 0.0999755859375],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x0000, 0],
    [0x8000, -0],
  ];
  for (const [bits, value] of known) {
    it(`decodes 0x${bits.toString(16).padStart(4, '0')}`, () => assert.ok(Object.is(fp16BitsToFloat32(bits), value)));
  }

  it('decodes every NaN pattern as NaN', () => {
    for (const bits of [0x7c01, 0x7e00, 0x7fff, 0xfc01, 0xfe00, 0xffff]) assert.ok(Number.isNaN(fp16BitsToFloat32(bits)));
  });

  it('round-trips all 65536 bit patterns (NaNs as NaN)', () => {
    for (let bits = 0; bits <= 0xffff; bits++) {
      const back = float32ToFp16Bits(fp16BitsToFloat32(bits));
      if (isNaNBits(bits)) assert.equal(back, 0x7e00);
      else assert.equal(back, bits, `bits 0x${bits.toString(16)}`);
    }
  });

  it('gives values float32 holds exactly', () => {
    for (let bits = 0; bits < 0x7c00; bits++) {
      const x = fp16BitsToFloat32(bits);
      assert.equal(Math.fround(x), x);
    }
  });
});

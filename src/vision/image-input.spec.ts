import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beyondLimits } from './image-input.js';

const LIMITS = { maxImagePixels: 50_000_000, maxImageSide: 16_384, maxImageAspectRatio: 64 };

describe('beyondLimits', () => {
  const cases: Array<[number, number, string | undefined]> = [
    [7071, 7071, undefined],
    [16_384, 256, undefined],
    [256, 16_384, undefined],
    [1, 1, undefined],
    [64, 1, undefined],
    [100_000, 100_000, ' = 10000000000 pixels; the limit is 50000000'],
    [1, 49_000_000, '; its longer side is 49000000 pixels, the limit is 16384'],
    [16_385, 1024, '; its longer side is 16385 pixels, the limit is 16384'],
    [65, 1, '; its aspect ratio is 65:1, the limit is 64:1'],
    [10, 641, '; its aspect ratio is 64.1:1, the limit is 64:1'],
    [3, 200, '; its aspect ratio is 66.67:1, the limit is 64:1'],
  ];
  for (const [width, height, expected] of cases) {
    it(`${width} x ${height}: ${expected ?? 'within the limits'}`, () => {
      assert.equal(beyondLimits(width, height, LIMITS), expected);
    });
  }
});

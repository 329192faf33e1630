import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directionInput, isUpsideDown } from './direction.js';

describe('isUpsideDown', () => {
  const probs = Float32Array.of(0.875, 0.125, 0.0625, 0.9375, 0.125, 0.875);
  it('turns a crop only when class 180 wins with more than 0.9', () => {
    assert.deepEqual(
      [0, 1, 2].map((i) => isUpsideDown(probs, i)),
      [false, true, false],
    );
  });
});

describe('directionInput', () => {
  it('is [N, 3, 48, 192] whatever the crops size', () => {
    const crop = (width: number) => ({ data: new Uint8Array(width * 48 * 3).fill(255), width, height: 48 });
    const input = directionInput([crop(40), crop(900)]);
    assert.deepEqual(input.shape, [2, 3, 48, 192]);
    const data = input.data as Float32Array;
    assert.deepEqual([data[39], data[40], data[3 * 48 * 192 + 191]], [1, 0, 1]);
  });
});

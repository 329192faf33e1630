import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cosineMatrix } from './similarity.js';

describe('cosineMatrix', () => {
  it('is symmetric with ones on the diagonal, and 0 against a zero vector', () => {
    const m = cosineMatrix([
      [1, 0],
      [1, 1],
      [0, -2],
      [0, 0],
    ]);
    const r = Math.SQRT1_2;
    const expected = [
      [1, r, 0, 0],
      [r, 1, -r, 0],
      [0, -r, 1, 0],
      [0, 0, 0, 0],
    ];
    for (let i = 0; i < 4; i += 1) for (let j = 0; j < 4; j += 1) assert.ok(Math.abs(m[i]![j]! - expected[i]![j]!) < 1e-12, `${i},${j}`);
  });
});

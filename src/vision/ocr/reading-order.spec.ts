import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Quad } from './image.js';
import { readingOrder } from './reading-order.js';

const rect = (x0: number, y0: number, x1: number, y1: number): Quad => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];

describe('readingOrder', () => {
  it('reads rows top to bottom and boxes left to right, though boxes of a row are uneven', () => {
    const boxes = [
      rect(110, 46, 190, 66), // second line, right, a little higher than its neighbour
      rect(120, 14, 200, 34), // first line, right, a little lower
      rect(10, 50, 90, 70), // second line, left
      rect(10, 10, 100, 30), // first line, left
    ];
    assert.deepEqual(readingOrder(boxes), [3, 1, 2, 0]);
  });

  it('starts a new row when the centres are half a line height apart', () => {
    assert.deepEqual(readingOrder([rect(100, 10, 200, 30), rect(0, 20, 90, 40)]), [0, 1]);
    assert.deepEqual(readingOrder([rect(100, 10, 200, 30), rect(0, 19, 90, 39)]), [1, 0]);
  });

  it('measures tilted boxes by their extent', () => {
    const tilted: Quad = [
      [0, 10],
      [100, 0],
      [102, 20],
      [2, 30],
    ];
    assert.deepEqual(readingOrder([rect(120, 5, 200, 25), tilted]), [1, 0]);
  });

  it('handles no boxes', () => {
    assert.deepEqual(readingOrder([]), []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convexHull, minAreaRect, orderClockwise, quadSpanAt, unclipRect } from './geometry.js';
import type { Quad } from './image.js';

const near = (actual: Quad, expected: Quad, tolerance = 1e-9) =>
  actual.forEach((p, i) =>
    p.forEach((v, k) => assert.ok(Math.abs(v - expected[i]![k]!) <= tolerance, `${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`)),
  );

describe('unclipRect', () => {
  it('grows every side by area * ratio / perimeter', () => {
    // 100 x 20: 2000 * 1.5 / 240 = 12.5.
    assert.deepEqual(
      unclipRect(
        [
          [0, 0],
          [100, 0],
          [100, 20],
          [0, 20],
        ],
        1.5,
      ),
      [
        [-12.5, -12.5],
        [112.5, -12.5],
        [112.5, 32.5],
        [-12.5, 32.5],
      ],
    );
    // 5 x 3: 15 * 1.6 / 16 = 1.5.
    assert.deepEqual(
      unclipRect(
        [
          [4, 3],
          [9, 3],
          [9, 6],
          [4, 6],
        ],
        1.6,
      ),
      [
        [2.5, 1.5],
        [10.5, 1.5],
        [10.5, 7.5],
        [2.5, 7.5],
      ],
    );
  });

  it('grows a tilted rectangle along its own axes', () => {
    // Sides 10 along (0.8, 0.6) and 5 along (-0.6, 0.8): 50 * 1.5 / 30 = 2.5 on each side.
    const grown = unclipRect(
      [
        [0, 0],
        [8, 6],
        [5, 10],
        [-3, 4],
      ],
      1.5,
    );
    near(grown, [
      [-0.5, -3.5],
      [11.5, 5.5],
      [5.5, 13.5],
      [-6.5, 4.5],
    ]);
  });

  it('leaves a degenerate rectangle as it is', () => {
    const point: Quad = [
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
    ];
    assert.deepEqual(unclipRect(point, 2), point);
  });
});

describe('minAreaRect', () => {
  it('fits an axis-aligned rectangle exactly', () => {
    const hull = convexHull(Float64Array.of(0, 0, 4, 0, 0, 2, 4, 2), 4);
    assert.deepEqual(minAreaRect(hull), [
      [0, 0],
      [4, 0],
      [4, 2],
      [0, 2],
    ]);
  });

  it('follows a tilted rectangle rather than its axis-aligned bounds', () => {
    const hull = convexHull(Float64Array.of(0, 0, 8, 6, -3, 4, 5, 10), 4);
    near(
      minAreaRect(hull),
      [
        [0, 0],
        [8, 6],
        [5, 10],
        [-3, 4],
      ],
      1e-9,
    );
  });
});

describe('convexHull', () => {
  it('drops inner and collinear points of points sorted by y then x', () => {
    const hull = convexHull(Float64Array.of(0, 0, 2, 0, 4, 0, 1, 1, 2, 1, 0, 2, 4, 2), 7);
    assert.deepEqual([...hull], [0, 0, 4, 0, 4, 2, 0, 2]);
  });
});

describe('orderClockwise', () => {
  it('starts at the top-left corner and goes clockwise on screen', () => {
    assert.deepEqual(
      orderClockwise([
        [10, 10],
        [0, 10],
        [10, 0],
        [0, 0],
      ]),
      [
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 10],
      ],
    );
    assert.deepEqual(
      orderClockwise([
        [0, 10],
        [10, 10],
        [10, 0],
        [0, 0],
      ]),
      [
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 10],
      ],
    );
  });
});

describe('quadSpanAt', () => {
  it('gives the x range a convex quad covers on a horizontal line', () => {
    const diamond: Quad = [
      [5, 0],
      [10, 5],
      [5, 10],
      [0, 5],
    ];
    assert.deepEqual(quadSpanAt(diamond, 5), [0, 10]);
    assert.deepEqual(quadSpanAt(diamond, 2.5), [2.5, 7.5]);
    assert.equal(quadSpanAt(diamond, 11), undefined);
  });
});

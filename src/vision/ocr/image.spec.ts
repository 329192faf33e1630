import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cropQuad,
  quadSize,
  type RgbImage,
  resizeBilinear,
  rotate180,
  rotate90CounterClockwise,
  squareToQuad,
  writeBgrPlanes,
} from './image.js';

/** A width x height image whose pixel i is (i, 100 + i, 200 - i). */
function numbered(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) data.set([i, 100 + i, 200 - i], i * 3);
  return { data, width, height };
}

const reds = (image: RgbImage) => [...image.data].filter((_, i) => i % 3 === 0);

describe('resizeBilinear', () => {
  it('returns the same image at the same size', () => {
    const image = numbered(3, 2);
    assert.equal(resizeBilinear(image, 3, 2), image);
  });

  it('samples with half-pixel centres, as OpenCV', () => {
    // 2x1 -> 4x1: positions -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) between values 0 and 1 (x 100).
    const image: RgbImage = { data: Uint8Array.of(0, 0, 0, 100, 100, 100), width: 2, height: 1 };
    assert.deepEqual(reds(resizeBilinear(image, 4, 1)), [0, 25, 75, 100]);
  });
});

describe('rotations', () => {
  it('turns a half and a quarter', () => {
    const image = numbered(3, 2); // reds 0 1 2 / 3 4 5
    assert.deepEqual(reds(rotate180(image)), [5, 4, 3, 2, 1, 0]);
    const turned = rotate90CounterClockwise(image);
    assert.deepEqual([turned.width, turned.height, reds(turned)], [2, 3, [2, 5, 1, 4, 0, 3]]);
  });
});

describe('squareToQuad', () => {
  it('maps the unit square corners onto the quad, perspective included', () => {
    const quad: [number, number][] = [
      [10, 20],
      [110, 30],
      [90, 80],
      [5, 60],
    ];
    const h = squareToQuad(quad as never);
    const at = (u: number, v: number) => {
      const w = h[6] * u + h[7] * v + 1;
      return [(h[0] * u + h[1] * v + h[2]) / w, (h[3] * u + h[4] * v + h[5]) / w].map((x) => Math.round(x * 1e9) / 1e9);
    };
    assert.deepEqual([at(0, 0), at(1, 0), at(1, 1), at(0, 1)], quad);
  });
});

describe('cropQuad', () => {
  it('copies an axis-aligned region on pixel edges exactly', () => {
    const image = numbered(4, 3);
    const crop = cropQuad(
      image,
      [
        [1, 1],
        [3, 1],
        [3, 3],
        [1, 3],
      ],
      2,
      2,
    );
    assert.deepEqual(reds(crop), [5, 6, 9, 10]);
    assert.deepEqual([...crop.data.subarray(0, 3)], [5, 105, 195]);
  });

  it('reads a quad given from its bottom-right corner upside down', () => {
    const image = numbered(4, 3);
    assert.deepEqual(
      reds(
        cropQuad(
          image,
          [
            [3, 3],
            [1, 3],
            [1, 1],
            [3, 1],
          ],
          2,
          2,
        ),
      ),
      [10, 9, 6, 5],
    );
  });

  it('repeats edge pixels outside the image', () => {
    const image = numbered(2, 2);
    assert.deepEqual(
      reds(
        cropQuad(
          image,
          [
            [-2, 0],
            [0, 0],
            [0, 1],
            [-2, 1],
          ],
          2,
          1,
        ),
      ),
      [0, 0],
    );
  });
});

describe('quadSize', () => {
  it('takes the longer of each pair of opposite sides', () => {
    assert.deepEqual(
      quadSize([
        [0, 0],
        [10, 0],
        [12, 5],
        [0, 4],
      ]),
      { width: Math.hypot(12, 1), height: Math.hypot(2, 5) },
    );
  });
});

describe('writeBgrPlanes', () => {
  it('writes blue, green, red planes into a wider plane, leaving the padding', () => {
    const out = new Float32Array(2 * 3 * 1).fill(9);
    writeBgrPlanes({ data: Uint8Array.of(255, 0, 51), width: 1, height: 1 }, out, 0, 2, [0, 0, 0], [1, 1, 1]);
    assert.deepEqual([...out], [0.2, 9, 0, 9, 1, 9].map(Math.fround));
  });
});

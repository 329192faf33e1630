import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import type { ImagePreprocess } from '../contracts/model-manifest.js';
import { beyondLimits, imageForDetector } from './image-input.js';

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

describe('imageForDetector', () => {
  const pre = (fit: 'contain' | 'stretch', background: ImagePreprocess['background']): ImagePreprocess => ({
    width: 8,
    height: 8,
    fit,
    padding: 0,
    trim: false,
    channels: 'rgb',
    layout: 'nhwc',
    invert: false,
    scale: 1,
    mean: [0],
    std: [1],
    background,
  });
  const white = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();

  it('letterboxes into the middle on the background and says where the image landed', async () => {
    // 20 x 10 into 8 x 8: scale 0.4, 8 x 4, two rows of padding above and below.
    const { data, placement } = await imageForDetector(await white(20, 10), pre('contain', 'gray'), LIMITS);
    assert.deepEqual(placement, { width: 20, height: 10, scaleX: 0.4, scaleY: 0.4, left: 0, top: 2 });
    const rows = Array.from({ length: 8 }, (_, y) => data[y * 8 * 3]);
    assert.deepEqual(rows, [114, 114, 255, 255, 255, 255, 114, 114]);
  });

  it('stretches to the input with separate scales, after EXIF orientation', async () => {
    // Stored 10 x 20 with orientation 6: it is 20 x 10 once turned.
    const turned = await sharp(await white(10, 20))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const { data, placement } = await imageForDetector(turned, pre('stretch', 'black'), LIMITS);
    assert.deepEqual(placement, { width: 20, height: 10, scaleX: 0.4, scaleY: 0.8, left: 0, top: 0 });
    assert.equal(data.length, 8 * 8 * 3);
    assert.ok(data.every((v) => v > 250));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boxesFromMap, DEFAULT_DETECTION, detectionInput, detectionSize, meanInside, regionOutlines } from './detection.js';

describe('detectionSize', () => {
  const cases: Array<[[number, number, number], { width: number; height: number }]> = [
    [[463, 116, 960], { width: 448, height: 128 }], // small images keep their scale
    [[1920, 1080, 960], { width: 960, height: 544 }], // 1080 / 2 = 540 -> 544
    [[10, 5, 960], { width: 32, height: 32 }], // never below 32
    [[4000, 100, 960], { width: 960, height: 32 }],
  ];
  for (const [[w, h, max], expected] of cases) {
    it(`${w}x${h} at most ${max} -> ${expected.width}x${expected.height}`, () => assert.deepEqual(detectionSize(w, h, max), expected));
  }
});

describe('detectionInput', () => {
  it('is [1, 3, H, W] in BGR planes, normalised by the ImageNet mean and std', () => {
    const pixel = [255, 0, 0]; // pure red
    const data = new Uint8Array(32 * 32 * 3).map((_, i) => pixel[i % 3]!);
    const input = detectionInput({ data, width: 32, height: 32 }, 960);
    assert.deepEqual(input.shape, [1, 3, 32, 32]);
    const planes = [0, 1, 2].map((c) => (input.data as Float32Array)[c * 32 * 32]!);
    const expected = [(0 - 0.485) / 0.229, (0 - 0.456) / 0.224, (1 - 0.406) / 0.225];
    planes.forEach((v, c) => assert.ok(Math.abs(v - expected[c]!) < 1e-6, `plane ${c}: ${v}`));
  });
});

/** A 16 x 10 map: a 5 x 3 text block, a faint block, and a one-row sliver. */
function sampleMap(): Float32Array {
  const map = new Float32Array(16 * 10);
  for (let y = 3; y <= 5; y += 1) for (let x = 4; x <= 8; x += 1) map[y * 16 + x] = 0.75;
  for (let y = 0; y <= 1; y += 1) for (let x = 11; x <= 14; x += 1) map[y * 16 + x] = 0.4;
  map[9 * 16 + 1] = 0.9;
  map[9 * 16 + 2] = 0.9;
  return map;
}

describe('boxesFromMap', () => {
  it('keeps confident regions, grows them by the unclip offset, and scales them to the image', () => {
    // Block edges x 4..9, y 3..6; 5 x 3 grows by 15 * 1.6 / 16 = 1.5, then doubles to image pixels.
    const params = { ...DEFAULT_DETECTION, unclipRatio: 1.6 };
    assert.deepEqual(boxesFromMap(sampleMap(), 16, 10, 32, 20, params), [
      {
        box: [
          [5, 3],
          [21, 3],
          [21, 15],
          [5, 15],
        ],
        score: 0.75,
      },
    ]);
  });

  it('clamps boxes to the image', () => {
    const params = { ...DEFAULT_DETECTION, unclipRatio: 6.4 }; // grows by 6
    assert.deepEqual(boxesFromMap(sampleMap(), 16, 10, 16, 10, params)[0]!.box, [
      [0, 0],
      [15, 0],
      [15, 10],
      [0, 10],
    ]);
  });

  it('keeps the faint region when the box threshold allows it', () => {
    const params = { ...DEFAULT_DETECTION, boxThreshold: 0.3, minSize: 2 };
    assert.equal(boxesFromMap(sampleMap(), 16, 10, 16, 10, params).length, 2);
  });
});

describe('regionOutlines', () => {
  it('finds each 8-connected region once, as its convex outline in pixel edges', () => {
    const outlines = regionOutlines(sampleMap(), 16, 10, 0.3, 10);
    assert.deepEqual(
      outlines.map((o) => [...o]),
      [
        [11, 0, 15, 0, 15, 2, 11, 2],
        [4, 3, 9, 3, 9, 6, 4, 6],
        [1, 9, 3, 9, 3, 10, 1, 10],
      ],
    );
  });

  it('joins diagonal neighbours and stops at maxRegions', () => {
    const map = Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
    assert.equal(regionOutlines(map, 3, 3, 0.5, 10).length, 1);
    assert.equal(regionOutlines(sampleMap(), 16, 10, 0.3, 2).length, 2);
  });
});

describe('meanInside', () => {
  it('averages the map over pixels whose centres are inside the quad', () => {
    const map = Float32Array.from({ length: 16 }, (_, i) => i); // 4 x 4
    assert.equal(
      meanInside(map, 4, 4, [
        [1, 1],
        [3, 1],
        [3, 3],
        [1, 3],
      ]),
      (5 + 6 + 9 + 10) / 4,
    );
    assert.equal(
      meanInside(map, 4, 4, [
        [5, 5],
        [6, 5],
        [6, 6],
        [5, 6],
      ]),
      0,
    );
  });
});

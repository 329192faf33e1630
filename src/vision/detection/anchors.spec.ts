import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SsdAnchorOptions, ssdAnchors } from './anchors.js';

/** MediaPipe's face_detection_short_range (BlazeFace front, 128 x 128) anchor options. */
const FRONT: SsdAnchorOptions = {
  inputWidth: 128,
  inputHeight: 128,
  numLayers: 4,
  minScale: 0.1484375,
  maxScale: 0.75,
  strides: [8, 16, 16, 16],
  aspectRatios: [1],
  anchorOffsetX: 0.5,
  anchorOffsetY: 0.5,
  reduceBoxesInLowestLayer: false,
  interpolatedScaleAspectRatio: 1,
  fixedAnchorSize: true,
};

describe('ssdAnchors', () => {
  it('lays BlazeFace front out as 16 x 16 x 2 then 8 x 8 x 6 unit anchors, row by row', () => {
    const anchors = ssdAnchors(FRONT);
    assert.equal(anchors.length, 896);
    assert.deepEqual(anchors.slice(0, 3), [
      { x: 0.5 / 16, y: 0.5 / 16, w: 1, h: 1 },
      { x: 0.5 / 16, y: 0.5 / 16, w: 1, h: 1 },
      { x: 1.5 / 16, y: 0.5 / 16, w: 1, h: 1 },
    ]);
    assert.deepEqual(anchors[32], { x: 0.5 / 16, y: 1.5 / 16, w: 1, h: 1 });
    // The three stride-16 layers share one 8 x 8 map: six anchors a cell.
    for (let i = 512; i < 518; i += 1) assert.deepEqual(anchors[i], { x: 0.5 / 8, y: 0.5 / 8, w: 1, h: 1 });
    assert.deepEqual(anchors[518], { x: 1.5 / 8, y: 0.5 / 8, w: 1, h: 1 });
    assert.deepEqual(anchors[895], { x: 7.5 / 8, y: 7.5 / 8, w: 1, h: 1 });
  });

  it('gives the back model (256 x 256, strides 16 and 32) the same 896-anchor layout', () => {
    const back = ssdAnchors({ ...FRONT, inputWidth: 256, inputHeight: 256, minScale: 0.15625, strides: [16, 32, 32, 32] });
    assert.deepEqual(back, ssdAnchors(FRONT));
  });

  it('sizes anchors by layer scale and aspect ratio, with the interpolated scale between layers', () => {
    const [a, b] = ssdAnchors({ ...FRONT, fixedAnchorSize: false, aspectRatios: [4] });
    const s0 = 0.1484375;
    const s1 = 0.1484375 + (0.75 - 0.1484375) / 3;
    assert.ok(Math.abs(a!.w - s0 * 2) < 1e-12 && Math.abs(a!.h - s0 / 2) < 1e-12, JSON.stringify(a));
    assert.ok(Math.abs(b!.w - Math.sqrt(s0 * s1)) < 1e-12 && Math.abs(b!.h - Math.sqrt(s0 * s1)) < 1e-12, JSON.stringify(b));
    assert.throws(() => ssdAnchors({ ...FRONT, numLayers: 3 }), { message: '4 strides for 3 layers' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tensor } from '../../contracts/tensor.js';
import type { Placement } from '../image-input.js';
import { detectionsFrom } from './detection-pipeline.js';
import { detectionParameters } from './detection-parameters.js';

const fp32 = (shape: number[], values: number[]): Tensor => ({ datatype: 'FP32', shape, data: Float32Array.from(values) });
const settings = { threshold: 0.5, iouThreshold: 0.45, maxDetections: 100 };
/** A 200 x 100 image letterboxed into 64 x 64: 64 x 32, 16 rows of padding above. */
const LETTERBOX: Placement = { width: 200, height: 100, scaleX: 0.32, scaleY: 0.32, left: 0, top: 16 };
const INPUT = { width: 64, height: 64 };

describe('detectionsFrom', () => {
  it('yolo: best class per anchor, NMS per class, boxes back in image pixels, clamped to the image', () => {
    const p = detectionParameters.parse({ decoder: 'yolo', output: 'output0' });
    // [4 + 2 classes, 3 anchors]: columns are anchors.
    const output = fp32(
      [1, 6, 3],
      [
        ...[16, 17, 60], // cx
        ...[32, 32, 20], // cy
        ...[16, 16, 20], // w
        ...[16, 16, 10], // h
        ...[0.9, 0.8, 0.1], // class 0
        ...[0.1, 0.2, 0.7], // class 1
      ],
    );
    const objects = detectionsFrom(p, { output0: output }, INPUT, LETTERBOX, settings, ['cat', 'dog']);
    assert.deepEqual(objects, [
      { score: objects[0]!.score, label: 'cat', box: { xmin: 25, ymin: 25, xmax: 75, ymax: 75 } },
      // x 50..70 runs past the input's 64 (the image's 200), y 15..25 into the padding above it: both clamped.
      { score: objects[1]!.score, label: 'dog', box: { xmin: 156, ymin: 0, xmax: 200, ymax: 28 } },
    ]);
    assert.ok(Math.abs(objects[0]!.score - 0.9) < 1e-6 && Math.abs(objects[1]!.score - 0.7) < 1e-6);
    // No labels in the manifest: the class index names it.
    assert.equal(detectionsFrom(p, { output0: output }, INPUT, LETTERBOX, settings, undefined)[0]!.label, 'LABEL_0');
  });

  it('yolo-end2end: rows as the graph gave them, over the threshold, best first, no NMS here', () => {
    const p = detectionParameters.parse({ decoder: 'yolo-end2end', output: 'out' });
    const rows = [8, 20, 24, 36, 0.6, 1, 8, 20, 24, 36, 0.9, 1, 0, 0, 0, 0, 0, 0];
    const objects = detectionsFrom(p, { out: fp32([1, 3, 6], rows) }, INPUT, LETTERBOX, settings, ['cat', 'dog']);
    assert.deepEqual(
      objects.map((o) => [o.label, Number(o.score.toFixed(3)), o.box]),
      [
        ['dog', 0.9, { xmin: 25, ymin: 13, xmax: 75, ymax: 63 }],
        ['dog', 0.6, { xmin: 25, ymin: 13, xmax: 75, ymax: 63 }],
      ],
    );
  });

  it('ssd-anchors: sigmoid scores, offsets from the anchor in boxScale pixels, named keypoints', () => {
    const p = detectionParameters.parse({
      decoder: 'ssd-anchors',
      scores: ['s'],
      boxes: ['b'],
      anchors: { numLayers: 1, minScale: 0.5, maxScale: 0.5, strides: [32], interpolatedScaleAspectRatio: 0 },
      boxScale: 64,
      keypoints: ['eye'],
    });
    // A 64 x 64 input with stride 32: 2 x 2 cells, one anchor each, centres at 16 and 48 pixels.
    const scores = fp32([1, 4, 1], [-5, 3, -5, -5]);
    const boxes = fp32([1, 4, 6], [0, 0, 0, 0, 0, 0, ...[4, -2, 20, 10, 1, 1], ...new Array<number>(12).fill(0)]);
    const square: Placement = { width: 128, height: 128, scaleX: 0.5, scaleY: 0.5, left: 0, top: 0 };
    const [face, ...rest] = detectionsFrom(p, { s: scores, b: boxes }, INPUT, square, settings, ['face']);
    assert.equal(rest.length, 0);
    assert.ok(Math.abs(face!.score - 1 / (1 + Math.exp(-3))) < 1e-9);
    // Anchor (48, 16) + (4, -2) = centre (52, 14), 20 x 10 -> (42, 9)-(62, 19) input pixels, doubled.
    assert.deepEqual(face!.box, { xmin: 84, ymin: 18, xmax: 124, ymax: 38 });
    assert.deepEqual(face!.keypoints, [{ label: 'eye', x: 98, y: 34 }]);
  });

  it('refuses outputs that do not fit the decoder', () => {
    const p = detectionParameters.parse({ decoder: 'yolo-end2end', output: 'out' });
    assert.throws(() => detectionsFrom(p, { out: fp32([1, 2, 5], new Array<number>(10).fill(0)) }, INPUT, LETTERBOX, settings, []), {
      message: 'an end-to-end YOLO output is [1, detections, 6]; this one is [2, 5]',
    });
    assert.throws(() => detectionsFrom(p, {}, INPUT, LETTERBOX, settings, []), { message: 'the detector gave no FP32 output "out"' });
  });
});

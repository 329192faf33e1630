import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hardNms, iou, type RawDetection, weightedNms } from './nms.js';

const d = (score: number, classIndex: number, box: RawDetection['box'], keypoints?: number[]): RawDetection => ({
  score,
  classIndex,
  box,
  ...(keypoints ? { keypoints } : {}),
});

describe('iou', () => {
  it('is intersection over union, 0 for boxes that only touch', () => {
    assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
    assert.equal(iou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
    assert.equal(iou([0, 0, 10, 10], [10, 0, 20, 10]), 0);
    assert.equal(iou([0, 0, 0, 0], [0, 0, 0, 0]), 0);
  });
});

describe('hardNms', () => {
  const cat = d(0.9, 0, [0, 0, 10, 10]);
  const cat2 = d(0.8, 0, [1, 0, 11, 10]); // IoU 0.82 with cat
  const dog = d(0.7, 1, [0, 1, 10, 11]); // IoU 0.82 with cat, another class
  const far = d(0.6, 0, [50, 50, 60, 60]);
  const cases: Array<[string, RawDetection[], number, number, RawDetection[]]> = [
    ['same class overlapping: the better stays', [cat2, cat], 0.5, 10, [cat]],
    ['another class overlapping: both stay', [dog, cat], 0.5, 10, [cat, dog]],
    ['below the IoU threshold: both stay', [cat, cat2], 0.9, 10, [cat, cat2]],
    ['best first, cut at maxDetections', [far, dog, cat2, cat], 0.5, 2, [cat, dog]],
    ['nothing in, nothing out', [], 0.5, 10, []],
  ];
  for (const [what, input, threshold, max, want] of cases) it(what, () => assert.deepEqual(hardNms(input, threshold, max), want));
});

describe('weightedNms', () => {
  it('blends a group into the score-weighted mean box and keypoints, with the best score', () => {
    const kept = weightedNms(
      [d(0.6, 0, [2, 0, 12, 10], [4, 4]), d(0.9, 0, [0, 0, 10, 10], [1, 1]), d(0.5, 0, [40, 40, 50, 50], [45, 45])],
      0.3,
      10,
    );
    assert.equal(kept.length, 2);
    assert.equal(kept[0]!.score, 0.9);
    const want = [(0 * 0.9 + 2 * 0.6) / 1.5, 0, (10 * 0.9 + 12 * 0.6) / 1.5, 10];
    kept[0]!.box.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-12, `box ${kept[0]!.box.join(',')}`));
    assert.deepEqual(
      kept[0]!.keypoints!.map((v) => Number(v.toFixed(9))),
      [2.2, 2.2],
    );
    assert.deepEqual(kept[1], d(0.5, 0, [40, 40, 50, 50], [45, 45]));
  });

  it('never blends across classes, and stops at maxDetections', () => {
    const input = [d(0.9, 0, [0, 0, 10, 10]), d(0.8, 1, [0, 0, 10, 10]), d(0.7, 0, [30, 30, 40, 40])];
    assert.deepEqual(weightedNms(input, 0.3, 10), input);
    assert.deepEqual(weightedNms(input, 0.3, 1), [input[0]]);
  });
});

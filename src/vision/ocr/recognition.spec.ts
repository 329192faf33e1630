import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RgbImage } from './image.js';
import {
  ctcAlphabet,
  ctcDecode,
  foldFullWidth,
  LINE_HEIGHT,
  lineCrop,
  MAX_LINE_WIDTH,
  parseDictionary,
  recognitionInput,
} from './recognition.js';

const ALPHABET = ctcAlphabet(['a', 'b']);

describe('ctcDecode', () => {
  // Steps of [blank, a, b, space]; values exact in float32.
  const steps = [
    [0.0625, 0.875, 0.0625, 0], // a
    [0.125, 0.75, 0.125, 0], // a again: collapsed
    [0.625, 0.25, 0.125, 0], // blank
    [0.25, 0.5, 0.25, 0], // a, after a blank: kept
    [0.125, 0.25, 0.625, 0], // b
    [0.25, 0, 0, 0.75], // space
    [0.375, 0, 0.5, 0.125], // b
  ];
  const blanks = steps.map(() => [1, 0, 0, 0]);
  const probs = Float32Array.from([...steps, ...blanks].flat());

  it('collapses repeats, drops blanks, and averages the kept steps', () => {
    assert.deepEqual(ctcDecode(probs, steps.length, ALPHABET, 0), { text: 'aab b', confidence: (0.875 + 0.5 + 0.625 + 0.75 + 0.5) / 5 });
  });

  it('reads the given row of a batch, and nothing from all blanks', () => {
    assert.deepEqual(ctcDecode(probs, steps.length, ALPHABET, 1), { text: '', confidence: 0 });
  });
});

describe('ctcAlphabet and parseDictionary', () => {
  it('puts the blank first and the space last', () => {
    assert.deepEqual(ALPHABET, ['', 'a', 'b', ' ']);
  });

  it('reads one entry per line, with or without a final newline or CRs', () => {
    assert.deepEqual(parseDictionary('x\ny\n'), ['x', 'y']);
    assert.deepEqual(parseDictionary('x\r\ny'), ['x', 'y']);
  });
});

describe('foldFullWidth', () => {
  const cases: Array<[string, string]> = [
    ['Tax （8%） $3.36', 'Tax (8%) $3.36'],
    ['Ａ１：Ｂ', 'A1:B'],
    ['a\u3000b', 'a b'],
    ['总计（含税）', '总计（含税）'],
    ['Total ＄5', 'Total $5'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => assert.equal(foldFullWidth(input), expected));
  }
});

const solid = (width: number, height: number, value: number): RgbImage => ({
  data: new Uint8Array(width * height * 3).fill(value),
  width,
  height,
});

describe('recognitionInput', () => {
  it('scales crops to height 48, pads to the widest (at least 320) with zeros, and normalises to [-1, 1]', () => {
    const input = recognitionInput([solid(20, 10, 255), solid(200, 24, 0)]);
    assert.deepEqual(input.shape, [2, 3, LINE_HEIGHT, 400]);
    const data = input.data as Float32Array;
    const plane = LINE_HEIGHT * 400;
    assert.deepEqual([data[0], data[95], data[96], data[399]], [1, 1, 0, 0]); // 20x10 -> 96x48, then padding
    assert.deepEqual([data[3 * plane + 399], data[3 * plane + 2 * plane + 47 * 400 + 399]], [-1, -1]);
  });
});

describe('lineCrop', () => {
  it('samples a line straight at line height, its length scaled alike and capped', () => {
    const image = solid(100, 100, 128);
    assert.deepEqual(
      size(
        lineCrop(image, [
          [10, 10],
          [70, 10],
          [70, 22],
          [10, 22],
        ]),
      ),
      [240, 48],
    );
    assert.deepEqual(
      size(
        lineCrop(image, [
          [0, 0],
          [90, 0],
          [90, 60],
          [0, 60],
        ]),
      ),
      [72, 48],
    );
    assert.deepEqual(
      size(
        lineCrop(image, [
          [0, 0],
          [100, 0],
          [100, 1],
          [0, 1],
        ]),
      ),
      [MAX_LINE_WIDTH, 48],
    );
  });

  it('turns vertical text a quarter so it reads left to right', () => {
    const image = solid(100, 100, 128);
    assert.deepEqual(
      size(
        lineCrop(image, [
          [10, 0],
          [22, 0],
          [22, 60],
          [10, 60],
        ]),
      ),
      [240, 48],
    );
  });
});

const size = (image: RgbImage) => [image.width, image.height];

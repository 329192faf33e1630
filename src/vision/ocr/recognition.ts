/**
 * PaddleOCR's line recogniser (PP-OCRv4, SVTR-LCNet with a CTC head): upright line crops at height
 * 48 in, per-step class probabilities out, decoded greedily.
 */
import type { Tensor } from '../../contracts/tensor.js';
import {
  cropQuad,
  type Quad,
  quadSize,
  type RgbImage,
  resizeBilinear,
  rotate90CounterClockwise,
  type Triple,
  writeBgrPlanes,
} from './image.js';

export const LINE_HEIGHT = 48;
/** PaddleOCR's narrowest batch width (its rec_image_shape 3,48,320). */
const MIN_BATCH_WIDTH = 320;
/**
 * The widest a line is fed; a longer line is squeezed to fit. 53 times the height holds about 80
 * characters, more than a detected line usually has, and bounds the cost of one crop.
 */
export const MAX_LINE_WIDTH = 2560;
const HALF: Triple = [0.5, 0.5, 0.5];
/** PaddleOCR reads a box this much taller than wide as vertical text, turned a quarter. */
const VERTICAL_ASPECT = 1.5;

/** How long a box's line is at the model's height (at most MAX_LINE_WIDTH), and whether it runs vertically. */
export function lineLength(box: Quad): { length: number; vertical: boolean } {
  const { width, height } = quadSize(box);
  const vertical = height >= width * VERTICAL_ASPECT;
  const [along, across] = vertical ? [height, width] : [width, height];
  return { length: Math.max(1, Math.min(MAX_LINE_WIDTH, Math.round((along * LINE_HEIGHT) / Math.max(across, 1)))), vertical };
}

/**
 * The box straightened into an upright line at the model's height, its length scaled alike.
 * Sampling straight at line height interpolates once: cropping at the box's own size and then
 * resizing blurs small text twice, and the model reads it noticeably worse.
 */
export function lineCrop(image: RgbImage, box: Quad): RgbImage {
  const { length, vertical } = lineLength(box);
  if (!vertical) return cropQuad(image, box, length, LINE_HEIGHT);
  return rotate90CounterClockwise(cropQuad(image, box, LINE_HEIGHT, length));
}

/** The width a crop takes at line height, at most maxWidth. */
function lineWidth(crop: RgbImage, maxWidth: number): number {
  return Math.max(1, Math.min(maxWidth, Math.ceil((LINE_HEIGHT * crop.width) / crop.height)));
}

/**
 * The input [N, 3, 48, W] for a batch of crops, W fitting the widest one: each crop scaled to
 * height 48 keeping its aspect, normalised to [-1, 1], and padded on the right with zeros.
 */
export function recognitionInput(crops: readonly RgbImage[]): Tensor {
  const width = Math.max(MIN_BATCH_WIDTH, ...crops.map((c) => lineWidth(c, MAX_LINE_WIDTH)));
  return paddedBatch(crops, width, width);
}

/** Crops at height 48 and their own width (at most maxWidth), padded to `width` columns. */
export function paddedBatch(crops: readonly RgbImage[], width: number, maxWidth: number): Tensor {
  const row = 3 * LINE_HEIGHT * width;
  const data = new Float32Array(crops.length * row);
  crops.forEach((crop, i) => {
    const resized = resizeBilinear(crop, lineWidth(crop, maxWidth), LINE_HEIGHT);
    writeBgrPlanes(resized, data, i * row, width, HALF, HALF);
  });
  return { datatype: 'FP32', shape: [crops.length, 3, LINE_HEIGHT, width], data };
}

/** The CTC classes: blank, the dictionary's entries, then the space PaddleOCR appends. */
export function ctcAlphabet(dictionary: readonly string[]): string[] {
  return ['', ...dictionary, ' '];
}

/** Dictionary entries from a keys file, one per line (a final newline adds no entry). */
export function parseDictionary(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export interface DecodedLine {
  text: string;
  /** Mean of the kept steps' probabilities; 0 when nothing was read. */
  confidence: number;
}

/**
 * Greedy CTC decoding of row `index` of probabilities [N, steps, alphabet.length]: the most likely
 * class per step, repeats collapsed, blanks (class 0) dropped.
 */
export function ctcDecode(probs: Float32Array, steps: number, alphabet: readonly string[], index: number): DecodedLine {
  const classes = alphabet.length;
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t += 1) {
    const base = (index * steps + t) * classes;
    let best = 0;
    let bestProb = probs[base]!;
    for (let c = 1; c < classes; c += 1) {
      const p = probs[base + c]!;
      if (p > bestProb) {
        best = c;
        bestProb = p;
      }
    }
    if (best !== 0 && best !== previous) {
      text += alphabet[best]!;
      sum += bestProb;
      kept += 1;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/**
 * Full-width forms (U+FF01-FF5E, and the ideographic space) as their ASCII letters, in a line
 * without CJK characters. The Chinese model cannot tell "(" from "（" by shape and often picks the
 * full-width one in Latin text; in CJK text the full-width forms are what was written, and stay.
 */
export function foldFullWidth(text: string): string {
  if (CJK.test(text)) return text;
  return text.replace(/[\uff01-\uff5e\u3000]/g, (c) => (c === '\u3000' ? ' ' : String.fromCharCode(c.charCodeAt(0) - 0xfee0)));
}

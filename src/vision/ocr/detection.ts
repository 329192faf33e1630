/**
 * PaddleOCR's text detector (DB, "Real-time Scene Text Detection with Differentiable Binarization"):
 * the image goes in at sides that are multiples of 32, a text probability map comes out; regions
 * of the binarised map become rectangles, grown back by the unclip offset the model was trained to undo.
 */
import type { Tensor } from '../../contracts/tensor.js';
import { convexHull, minAreaRect, orderClockwise, quadSpanAt, rectSides, unclipRect } from './geometry.js';
import { type Quad, type RgbImage, resizeBilinear, type Triple, writeBgrPlanes } from './image.js';

export interface DetectionParams {
  /** The longer side is scaled down to at most this (never up). */
  maxSide: number;
  /** Map values above this are text. */
  threshold: number;
  /** A region is kept when the mean map value inside its rectangle reaches this. */
  boxThreshold: number;
  unclipRatio: number;
  /** Regions whose shorter side (in map pixels) is below this are noise. */
  minSize: number;
  maxCandidates: number;
}

export const DEFAULT_DETECTION: Readonly<DetectionParams> = Object.freeze({
  maxSide: 960,
  threshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 2.2,
  minSize: 3,
  maxCandidates: 1000,
});

const IMAGENET_MEAN: Triple = [0.485, 0.456, 0.406];
const IMAGENET_STD: Triple = [0.229, 0.224, 0.225];

export interface DetectedBox {
  /** Clockwise from top-left, in original-image pixels, inside the image. */
  box: Quad;
  /** Mean text probability inside the region's rectangle before it was grown. */
  score: number;
}

/** The detector's input size: the longer side at most maxSide, both sides rounded to multiples of 32. */
export function detectionSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const ratio = Math.min(1, maxSide / Math.max(width, height));
  const round32 = (side: number) => Math.max(32, Math.round((side * ratio) / 32) * 32);
  return { width: round32(width), height: round32(height) };
}

/** The detector's input tensor [1, 3, H, W] for one image. */
export function detectionInput(image: RgbImage, maxSide: number): Tensor {
  const size = detectionSize(image.width, image.height, maxSide);
  const resized = resizeBilinear(image, size.width, size.height);
  const data = new Float32Array(3 * size.width * size.height);
  writeBgrPlanes(resized, data, 0, size.width, IMAGENET_MEAN, IMAGENET_STD);
  return { datatype: 'FP32', shape: [1, 3, size.height, size.width], data };
}

/**
 * Text boxes from the probability map (mapWidth x mapHeight) of an image of imageWidth x imageHeight,
 * in no particular order.
 */
export function boxesFromMap(
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  imageWidth: number,
  imageHeight: number,
  params: DetectionParams,
): DetectedBox[] {
  const sx = imageWidth / mapWidth;
  const sy = imageHeight / mapHeight;
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const boxes: DetectedBox[] = [];
  for (const outline of regionOutlines(map, mapWidth, mapHeight, params.threshold, params.maxCandidates)) {
    const rect = minAreaRect(outline);
    if (rectSides(rect)[0] < params.minSize) continue;
    const score = meanInside(map, mapWidth, mapHeight, rect);
    if (score < params.boxThreshold) continue;
    const grown = unclipRect(rect, params.unclipRatio);
    if (rectSides(grown)[0] < params.minSize + 2) continue;
    const box = grown.map(([x, y]) => [clamp(x * sx, imageWidth), clamp(y * sy, imageHeight)]) as Quad;
    boxes.push({ box: orderClockwise(box), score });
  }
  return boxes;
}

/**
 * The convex outline (interleaved [x, y, ...], pixel edges) of each 8-connected region of map
 * values above the threshold, at most maxRegions of them. A flood fill over a typed-array queue;
 * per region only each row's leftmost and rightmost pixel is kept, all its convex hull needs.
 */
export function regionOutlines(map: Float32Array, width: number, height: number, threshold: number, maxRegions: number): Float64Array[] {
  const state = new Uint8Array(width * height); // 1 = text not yet visited, 2 = visited
  for (let p = 0; p < state.length; p += 1) if (map[p]! > threshold) state[p] = 1;
  const region: Region = {
    queue: new Int32Array(width * height),
    left: new Int32Array(height).fill(width),
    right: new Int32Array(height).fill(-1),
    top: 0,
    bottom: 0,
  };
  const outlines: Float64Array[] = [];
  for (let start = 0; start < state.length && outlines.length < maxRegions; start += 1) {
    if (state[start] !== 1) continue;
    fillRegion(state, width, start, region);
    outlines.push(rowExtremesHull(region.left, region.right, region.top, region.bottom));
    region.left.fill(width, region.top, region.bottom + 1);
    region.right.fill(-1, region.top, region.bottom + 1);
  }
  return outlines;
}

/** Scratch space for one flood fill, reused across regions: rows top..bottom span left[y]..right[y]. */
interface Region {
  queue: Int32Array;
  left: Int32Array;
  right: Int32Array;
  top: number;
  bottom: number;
}

function fillRegion(state: Uint8Array, width: number, start: number, region: Region): void {
  const { queue, left, right } = region;
  const lastRow = state.length / width - 1;
  state[start] = 2;
  queue[0] = start;
  let head = 0;
  let tail = 1;
  region.top = Infinity;
  region.bottom = -1;
  while (head < tail) {
    const p = queue[head++]!;
    const x = p % width;
    const y = (p - x) / width;
    if (x < left[y]!) left[y] = x;
    if (x > right[y]!) right[y] = x;
    if (y < region.top) region.top = y;
    if (y > region.bottom) region.bottom = y;
    for (let ny = Math.max(y - 1, 0); ny <= Math.min(y + 1, lastRow); ny += 1) {
      for (let nx = Math.max(x - 1, 0); nx <= Math.min(x + 1, width - 1); nx += 1) {
        const q = ny * width + nx;
        if (state[q] === 1) {
          state[q] = 2;
          queue[tail++] = q;
        }
      }
    }
  }
}

/**
 * The hull of the pixel squares of rows top..bottom, each spanning left[y]..right[y]. At every
 * horizontal pixel edge only the outermost x on either side can be a hull vertex, and emitting
 * them edge by edge keeps the points sorted by (y, x) as the hull wants.
 */
function rowExtremesHull(left: Int32Array, right: Int32Array, top: number, bottom: number): Float64Array {
  const points = new Float64Array((bottom - top + 2) * 4);
  let n = 0;
  for (let edge = top; edge <= bottom + 1; edge += 1) {
    const above = edge - 1 >= top ? edge - 1 : edge;
    const below = edge <= bottom ? edge : edge - 1;
    points[n++] = Math.min(left[above]!, left[below]!);
    points[n++] = edge;
    points[n++] = Math.max(right[above]!, right[below]!) + 1;
    points[n++] = edge;
  }
  return convexHull(points, n / 2);
}

/** Mean map value over the pixels whose centres lie inside the quad (DB's "fast" box score). */
export function meanInside(map: Float32Array, width: number, height: number, quad: Quad): number {
  let sum = 0;
  let count = 0;
  const top = Math.max(0, Math.floor(Math.min(...quad.map((p) => p[1])) - 0.5));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(...quad.map((p) => p[1])) - 0.5));
  for (let y = top; y <= bottom; y += 1) {
    const span = quadSpanAt(quad, y + 0.5);
    if (!span) continue;
    const from = Math.max(0, Math.ceil(span[0] - 0.5));
    const to = Math.min(width - 1, Math.floor(span[1] - 0.5));
    for (let x = from; x <= to; x += 1) sum += map[y * width + x]!;
    count += Math.max(0, to - from + 1);
  }
  return count === 0 ? 0 : sum / count;
}

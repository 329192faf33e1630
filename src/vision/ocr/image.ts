/**
 * The few image operations OCR needs, on raw RGB pixels. Coordinates are continuous: pixel (i, j)
 * covers [i, i + 1) x [j, j + 1), so an image spans [0, width] x [0, height].
 */
export interface RgbImage {
  /** RGB interleaved, 3 bytes per pixel, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
}

export type Point = [number, number];
/** Four corners; detected boxes give them clockwise from the top-left one. */
export type Quad = [Point, Point, Point, Point];
export type Triple = readonly [number, number, number];

/**
 * Bilinear resize with half-pixel centres and no anti-aliasing: OpenCV's INTER_LINEAR, as the
 * Paddle models were trained with. (Stores add 0.5 and let the Uint8Array truncate: rounding.)
 */
export function resizeBilinear(image: RgbImage, width: number, height: number): RgbImage {
  if (width === image.width && height === image.height) return image;
  const xs = sampleTaps(image.width, width, 3);
  const ys = sampleTaps(image.height, height, image.width * 3);
  const src = image.data;
  const out = new Uint8Array(width * height * 3);
  let o = 0;
  for (let y = 0; y < height; y += 1) {
    const row0 = ys.offset[y]!;
    const row1 = row0 + ys.next[y]!;
    const wy = ys.weight[y]!;
    for (let x = 0; x < width; x += 1) {
      const a = xs.offset[x]!;
      const b = a + xs.next[x]!;
      const wx = xs.weight[x]!;
      for (let c = 0; c < 3; c += 1) {
        const p00 = src[row0 + a + c]!;
        const p01 = src[row0 + b + c]!;
        const p10 = src[row1 + a + c]!;
        const p11 = src[row1 + b + c]!;
        const top = p00 + (p01 - p00) * wx;
        out[o++] = top + (p10 + (p11 - p10) * wx - top) * wy + 0.5;
      }
    }
  }
  return { data: out, width, height };
}

/**
 * For each output position along one axis: the byte offset of the source position before it,
 * the step to the one after (0 at the edge), and the weight of the one after.
 */
function sampleTaps(from: number, to: number, stride: number): { offset: Int32Array; next: Int32Array; weight: Float32Array } {
  const offset = new Int32Array(to);
  const next = new Int32Array(to);
  const weight = new Float32Array(to);
  const scale = from / to;
  for (let i = 0; i < to; i += 1) {
    const s = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), from - 1);
    const index = Math.floor(s);
    offset[i] = index * stride;
    next[i] = index < from - 1 ? stride : 0;
    weight[i] = s - index;
  }
  return { offset, next, weight };
}

export function rotate180(image: RgbImage): RgbImage {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p += 1) {
    const q = (n - 1 - p) * 3;
    out[q] = image.data[p * 3]!;
    out[q + 1] = image.data[p * 3 + 1]!;
    out[q + 2] = image.data[p * 3 + 2]!;
  }
  return { data: out, width: image.width, height: image.height };
}

/** A quarter turn counter-clockwise, so a vertical line of text reads left to right. */
export function rotate90CounterClockwise(image: RgbImage): RgbImage {
  const { width, height } = image;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const p = (y * width + x) * 3;
      const q = ((width - 1 - x) * height + y) * 3;
      out[q] = image.data[p]!;
      out[q + 1] = image.data[p + 1]!;
      out[q + 2] = image.data[p + 2]!;
    }
  }
  return { data: out, width: height, height: width };
}

const distance = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** A quad's width and height: the longer of each pair of opposite sides. */
export function quadSize([tl, tr, br, bl]: Quad): { width: number; height: number } {
  return { width: Math.max(distance(tl, tr), distance(bl, br)), height: Math.max(distance(tl, bl), distance(tr, br)) };
}

/**
 * The quadrilateral straightened into an upright width x height image, sampled bilinearly with
 * edge pixels repeated outside the image.
 */
export function cropQuad(image: RgbImage, quad: Quad, width: number, height: number): RgbImage {
  const [a, b, c, d, e, f, g, h] = squareToQuad(quad);
  const { data } = image;
  const maxX = image.width - 1;
  const maxY = image.height - 1;
  const rowBytes = image.width * 3;
  const out = new Uint8Array(width * height * 3);
  const du = 1 / width;
  let o = 0;
  for (let j = 0; j < height; j += 1) {
    const v = (j + 0.5) / height;
    for (let i = 0; i < width; i += 1) {
      const u = (i + 0.5) * du;
      const iw = 1 / (g * u + h * v + 1);
      // Continuous coordinates to pixel indices (centres at +0.5), clamped so edge pixels repeat.
      let x = (a * u + b * v + c) * iw - 0.5;
      let y = (d * u + e * v + f) * iw - 0.5;
      x = x < 0 ? 0 : x > maxX ? maxX : x;
      y = y < 0 ? 0 : y > maxY ? maxY : y;
      const x0 = x | 0;
      const y0 = y | 0;
      const wx = x - x0;
      const wy = y - y0;
      const p00 = y0 * rowBytes + x0 * 3;
      const p01 = x0 < maxX ? p00 + 3 : p00;
      const p10 = y0 < maxY ? p00 + rowBytes : p00;
      const p11 = p10 + (p01 - p00);
      // Channels unrolled: this loop runs for every pixel of every line on the event loop.
      const r = data[p00]! + (data[p01]! - data[p00]!) * wx;
      const g1 = data[p00 + 1]! + (data[p01 + 1]! - data[p00 + 1]!) * wx;
      const b1 = data[p00 + 2]! + (data[p01 + 2]! - data[p00 + 2]!) * wx;
      out[o] = r + (data[p10]! + (data[p11]! - data[p10]!) * wx - r) * wy + 0.5;
      out[o + 1] = g1 + (data[p10 + 1]! + (data[p11 + 1]! - data[p10 + 1]!) * wx - g1) * wy + 0.5;
      out[o + 2] = b1 + (data[p10 + 2]! + (data[p11 + 2]! - data[p10 + 2]!) * wx - b1) * wy + 0.5;
      o += 3;
    }
  }
  return { data: out, width, height };
}

/**
 * The projective map of the unit square onto the quad, (0,0) -> tl, (1,0) -> tr, (1,1) -> br,
 * (0,1) -> bl, as [a, b, c, d, e, f, g, h]: x = (au + bv + c) / (gu + hv + 1), y = (du + ev + f) / (gu + hv + 1).
 * Closed form from Heckbert, "Fundamentals of Texture Mapping and Image Warping" (1989).
 */
export function squareToQuad([p0, p1, p2, p3]: Quad): [number, number, number, number, number, number, number, number] {
  const sx = p0[0] - p1[0] + p2[0] - p3[0];
  const sy = p0[1] - p1[1] + p2[1] - p3[1];
  let g = 0;
  let h = 0;
  const det = (p1[0] - p2[0]) * (p3[1] - p2[1]) - (p3[0] - p2[0]) * (p1[1] - p2[1]);
  if ((sx !== 0 || sy !== 0) && det !== 0) {
    g = (sx * (p3[1] - p2[1]) - (p3[0] - p2[0]) * sy) / det;
    h = ((p1[0] - p2[0]) * sy - sx * (p1[1] - p2[1])) / det;
  }
  return [p1[0] - p0[0] + g * p1[0], p3[0] - p0[0] + h * p3[0], p0[0], p1[1] - p0[1] + g * p1[1], p3[1] - p0[1] + h * p3[1], p0[1], g, h];
}

/**
 * Writes the image as normalised planes into `out` from `offset`: planes of `planeWidth` columns
 * (>= image.width; columns past it are left untouched, as padding) and image.height rows.
 * value = (pixel / 255 - mean[c]) / std[c]. Channels go in BGR order: the Paddle models were
 * trained on OpenCV images, and PaddleOCR applies mean[0] to the blue channel.
 */
export function writeBgrPlanes(image: RgbImage, out: Float32Array, offset: number, planeWidth: number, mean: Triple, std: Triple): void {
  const { width, height, data } = image;
  const plane = planeWidth * height;
  for (let c = 0; c < 3; c += 1) {
    const scale = 1 / (255 * std[c]!);
    const shift = mean[c]! / std[c]!;
    const source = 2 - c;
    const base = offset + c * plane;
    for (let y = 0; y < height; y += 1) {
      const row = base + y * planeWidth;
      let p = y * width * 3 + source;
      for (let x = 0; x < width; x += 1, p += 3) out[row + x] = data[p]! * scale - shift;
    }
  }
}

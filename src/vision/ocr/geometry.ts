import type { Point, Quad } from './image.js';

/**
 * Convex hull (Andrew's monotone chain) of points already sorted by y, then x, given as
 * interleaved [x0, y0, x1, y1, ...]; returned the same way, without repeating the first point.
 */
export function convexHull(sorted: Float64Array, count: number): Float64Array {
  if (count < 3) return sorted.slice(0, count * 2);
  const hull = new Float64Array(count * 4 + 4);
  let k = 0;
  const cross = (i: number, j: number, p: number) =>
    (hull[j * 2]! - hull[i * 2]!) * (sorted[p * 2 + 1]! - hull[i * 2 + 1]!) -
    (hull[j * 2 + 1]! - hull[i * 2 + 1]!) * (sorted[p * 2]! - hull[i * 2]!);
  const push = (p: number) => {
    hull[k * 2] = sorted[p * 2]!;
    hull[k * 2 + 1] = sorted[p * 2 + 1]!;
    k += 1;
  };
  for (let p = 0; p < count; p += 1) {
    while (k >= 2 && cross(k - 2, k - 1, p) <= 0) k -= 1;
    push(p);
  }
  const lower = k + 1;
  for (let p = count - 2; p >= 0; p -= 1) {
    while (k >= lower && cross(k - 2, k - 1, p) <= 0) k -= 1;
    push(p);
  }
  return hull.slice(0, (k - 1) * 2);
}

/**
 * The smallest-area rectangle around a convex polygon (interleaved [x, y, ...]): one of its sides
 * lies along a polygon edge, so each edge direction is tried. Corners in clockwise order.
 */
export function minAreaRect(hull: Float64Array): Quad {
  const n = hull.length / 2;
  let best: Quad | undefined;
  let bestArea = Infinity;
  for (let e = 0; e < Math.max(n, 1); e += 1) {
    const next = (e + 1) % n;
    let ux = hull[next * 2]! - hull[e * 2]!;
    let uy = hull[next * 2 + 1]! - hull[e * 2 + 1]!;
    const len = Math.hypot(ux, uy);
    if (len === 0) [ux, uy] = [1, 0];
    else [ux, uy] = [ux / len, uy / len];
    let minU = Infinity,
      maxU = -Infinity,
      minV = Infinity,
      maxV = -Infinity;
    for (let i = 0; i < n; i += 1) {
      const x = hull[i * 2]!;
      const y = hull[i * 2 + 1]!;
      const u = x * ux + y * uy;
      const v = y * ux - x * uy;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      // Back from (u, v) to (x, y): x = u*ux - v*uy, y = u*uy + v*ux.
      const at = (u: number, v: number): Point => [u * ux - v * uy, u * uy + v * ux];
      best = [at(minU, minV), at(maxU, minV), at(maxU, maxV), at(minU, maxV)];
    }
  }
  return orderClockwise(best!);
}

/** Lengths of a rectangle's two sides, shorter first. */
export function rectSides([p0, p1, , p3]: Quad): [number, number] {
  const a = Math.hypot(p1[0] - p0[0], p1[1] - p0[1]);
  const b = Math.hypot(p3[0] - p0[0], p3[1] - p0[1]);
  return a < b ? [a, b] : [b, a];
}

/**
 * DB's unclip: grows a rectangle by area * ratio / perimeter on every side, the offset that undoes
 * the shrinking the detector was trained on. (PaddleOCR offsets the polygon with rounded joins and
 * takes the minimum-area rectangle of the result, which for a rectangle is exactly this.)
 */
export function unclipRect(rect: Quad, ratio: number): Quad {
  const [w, h] = rectSides(rect);
  const perimeter = 2 * (w + h);
  if (perimeter === 0) return rect;
  const d = (w * h * ratio) / perimeter;
  const grown = rect.map((p, i) => {
    const prev = rect[(i + 3) % 4]!;
    const next = rect[(i + 1) % 4]!;
    const away = (q: Point): Point => {
      const len = Math.hypot(p[0] - q[0], p[1] - q[1]);
      return len === 0 ? [0, 0] : [(p[0] - q[0]) / len, (p[1] - q[1]) / len];
    };
    const [ax, ay] = away(prev);
    const [bx, by] = away(next);
    return [p[0] + d * (ax + bx), p[1] + d * (ay + by)] as Point;
  });
  return grown as Quad;
}

/**
 * Corners clockwise on screen (y down) starting from the top-left one, the corner nearest the
 * image origin along x + y; ties go to the lower x.
 */
export function orderClockwise(quad: Quad): Quad {
  const cx = (quad[0][0] + quad[1][0] + quad[2][0] + quad[3][0]) / 4;
  const cy = (quad[0][1] + quad[1][1] + quad[2][1] + quad[3][1]) / 4;
  const byAngle = [...quad].sort((a, b) => Math.atan2(a[1] - cy, a[0] - cx) - Math.atan2(b[1] - cy, b[0] - cx));
  let first = 0;
  for (let i = 1; i < 4; i += 1) {
    const [x, y] = byAngle[i]!;
    const [fx, fy] = byAngle[first]!;
    if (x + y < fx + fy - 1e-9 || (Math.abs(x + y - fx - fy) <= 1e-9 && x < fx)) first = i;
  }
  return [0, 1, 2, 3].map((i) => byAngle[(first + i) % 4]!) as Quad;
}

/** The x range [from, to) a convex quad covers along the horizontal line y, or undefined when it misses. */
export function quadSpanAt(quad: Quad, y: number): [number, number] | undefined {
  let from = Infinity;
  let to = -Infinity;
  for (let i = 0; i < 4; i += 1) {
    const [x0, y0] = quad[i]!;
    const [x1, y1] = quad[(i + 1) % 4]!;
    if (y < Math.min(y0, y1) || y > Math.max(y0, y1)) continue;
    const x = y1 === y0 ? Math.min(x0, x1) : x0 + ((y - y0) / (y1 - y0)) * (x1 - x0);
    const xEnd = y1 === y0 ? Math.max(x0, x1) : x;
    from = Math.min(from, x);
    to = Math.max(to, xEnd);
  }
  return from <= to ? [from, to] : undefined;
}

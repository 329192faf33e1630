import type { Quad } from './image.js';

interface Extent {
  index: number;
  left: number;
  centre: number;
  height: number;
}

/**
 * Indexes of the boxes in reading order: rows top to bottom, left to right within a row. A box
 * joins a row when its vertical centre is within half a line height (the smaller of the two) of
 * the centre of the row's first box, so slightly uneven boxes of one line stay together while the
 * next line, at least a line height lower, starts a new row.
 */
export function readingOrder(boxes: readonly Quad[]): number[] {
  const extents: Extent[] = boxes.map((box, index) => {
    const ys = box.map((p) => p[1]);
    const top = Math.min(...ys);
    const bottom = Math.max(...ys);
    return { index, left: Math.min(...box.map((p) => p[0])), centre: (top + bottom) / 2, height: bottom - top };
  });
  extents.sort((a, b) => a.centre - b.centre || a.left - b.left);
  const rows: Extent[][] = [];
  for (const extent of extents) {
    const row = rows.at(-1);
    const first = row?.[0];
    if (row && first && Math.abs(extent.centre - first.centre) < Math.min(extent.height, first.height) / 2) row.push(extent);
    else rows.push([extent]);
  }
  return rows.flatMap((row) => row.sort((a, b) => a.left - b.left).map((e) => e.index));
}

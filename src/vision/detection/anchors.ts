/**
 * SSD anchors as MediaPipe's SsdAnchorsCalculator generates them (BlazeFace and its relatives):
 * layers that share a stride share one feature map, each cell gets one anchor per aspect ratio of
 * each of those layers, plus one at the scale between the layer's and the next's. Centres are
 * normalised to [0, 1] of the model's input; with `fixedAnchorSize` every anchor is 1 x 1, so the
 * model's box sizes are read in input pixels scaled by the decoder alone.
 */
export interface SsdAnchorOptions {
  inputWidth: number;
  inputHeight: number;
  numLayers: number;
  minScale: number;
  maxScale: number;
  strides: readonly number[];
  aspectRatios: readonly number[];
  anchorOffsetX: number;
  anchorOffsetY: number;
  reduceBoxesInLowestLayer: boolean;
  /** 0: no interpolated anchor. */
  interpolatedScaleAspectRatio: number;
  fixedAnchorSize: boolean;
}

export interface Anchor {
  x: number;
  y: number;
  w: number;
  h: number;
}

function scaleAt(min: number, max: number, index: number, count: number): number {
  return count === 1 ? (min + max) / 2 : min + ((max - min) * index) / (count - 1);
}

/** The anchors in the order the model's outputs list them: layer groups, then rows, columns, anchors per cell. */
export function ssdAnchors(o: SsdAnchorOptions): Anchor[] {
  if (o.strides.length !== o.numLayers) throw new Error(`${o.strides.length} strides for ${o.numLayers} layers`);
  const anchors: Anchor[] = [];
  let layer = 0;
  while (layer < o.numLayers) {
    const sizes: Array<{ w: number; h: number }> = [];
    let last = layer;
    while (last < o.strides.length && o.strides[last] === o.strides[layer]) {
      const scale = scaleAt(o.minScale, o.maxScale, last, o.strides.length);
      const ratios: Array<[number, number]> = [];
      if (last === 0 && o.reduceBoxesInLowestLayer) {
        ratios.push([1, 0.1], [2, scale], [0.5, scale]);
      } else {
        for (const ratio of o.aspectRatios) ratios.push([ratio, scale]);
        if (o.interpolatedScaleAspectRatio > 0) {
          const next = last === o.strides.length - 1 ? 1 : scaleAt(o.minScale, o.maxScale, last + 1, o.strides.length);
          ratios.push([o.interpolatedScaleAspectRatio, Math.sqrt(scale * next)]);
        }
      }
      for (const [ratio, s] of ratios) sizes.push({ w: s * Math.sqrt(ratio), h: s / Math.sqrt(ratio) });
      last += 1;
    }
    const stride = o.strides[layer]!;
    const rows = Math.ceil(o.inputHeight / stride);
    const cols = Math.ceil(o.inputWidth / stride);
    for (let y = 0; y < rows; y += 1) {
      for (let x = 0; x < cols; x += 1) {
        for (const size of sizes) {
          anchors.push({
            x: (x + o.anchorOffsetX) / cols,
            y: (y + o.anchorOffsetY) / rows,
            w: o.fixedAnchorSize ? 1 : size.w,
            h: o.fixedAnchorSize ? 1 : size.h,
          });
        }
      }
    }
    layer = last;
  }
  return anchors;
}

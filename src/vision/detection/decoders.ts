import type { Tensor } from '../../contracts/tensor.js';
import { type Anchor, ssdAnchors } from './anchors.js';
import type { DetectionParameters, SsdParameters } from './detection-parameters.js';
import type { RawDetection } from './nms.js';

/** Model outputs by name, as a run returns them; every decoder reads the first image of the batch. */
export type Outputs = Record<string, Tensor>;

/** The input's size in pixels: SSD decoders scale normalised anchors by it. */
export interface InputSize {
  width: number;
  height: number;
}

/** The detections scoring at least `threshold`, in input pixels, before NMS. */
export function decodeDetections(p: DetectionParameters, outputs: Outputs, input: InputSize, threshold: number): RawDetection[] {
  switch (p.decoder) {
    case 'ssd-anchors':
      return decodeSsd(p, outputs, input, threshold);
    case 'yolo':
      return decodeYolo(floats(outputs, p.output), dims(outputs, p.output), threshold);
    case 'yolo-end2end':
      return decodeYoloEnd2End(floats(outputs, p.output), dims(outputs, p.output), threshold);
  }
}

function floats(outputs: Outputs, name: string): Float32Array {
  const t = outputs[name];
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`the detector gave no FP32 output "${name}"`);
  return t.data;
}

/** The shape without a leading batch dimension of 1. */
function dims(outputs: Outputs, name: string): number[] {
  const shape = outputs[name]!.shape;
  return shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const anchorCache = new Map<string, Anchor[]>();

function anchorsFor(p: SsdParameters, input: InputSize): Anchor[] {
  const key = JSON.stringify([p.anchors, input]);
  let anchors = anchorCache.get(key);
  if (!anchors) {
    anchors = ssdAnchors({ ...p.anchors, inputWidth: input.width, inputHeight: input.height });
    anchorCache.set(key, anchors);
  }
  return anchors;
}

/** MediaPipe's TensorsToDetectionsCalculator for one class (BlazeFace): sigmoid scores, anchor-relative boxes. */
function decodeSsd(p: SsdParameters, outputs: Outputs, input: InputSize, threshold: number): RawDetection[] {
  const anchors = anchorsFor(p, input);
  const scores = concat(p.scores.map((n) => floats(outputs, n)));
  const boxes = concat(p.boxes.map((n) => floats(outputs, n)));
  const n = anchors.length;
  if (scores.length !== n) throw new Error(`the detector gave ${scores.length} scores for ${n} anchors`);
  const coords = boxes.length / n;
  if (!Number.isInteger(coords) || coords < 4 + 2 * p.keypoints.length) {
    throw new Error(`the detector gave ${boxes.length} box values for ${n} anchors and ${p.keypoints.length} keypoints`);
  }
  const found: RawDetection[] = [];
  for (let i = 0; i < n; i += 1) {
    const logit = Math.min(p.scoreClip, Math.max(-p.scoreClip, scores[i]!));
    const score = 1 / (1 + Math.exp(-logit));
    if (!(score >= threshold)) continue;
    const a = anchors[i]!;
    const r = i * coords;
    const cx = (boxes[r]! / p.boxScale) * a.w + a.x;
    const cy = (boxes[r + 1]! / p.boxScale) * a.h + a.y;
    const w = (boxes[r + 2]! / p.boxScale) * a.w;
    const h = (boxes[r + 3]! / p.boxScale) * a.h;
    const keypoints: number[] = [];
    for (let k = 0; k < p.keypoints.length; k += 1) {
      keypoints.push(((boxes[r + 4 + 2 * k]! / p.boxScale) * a.w + a.x) * input.width);
      keypoints.push(((boxes[r + 5 + 2 * k]! / p.boxScale) * a.h + a.y) * input.height);
    }
    found.push({
      score,
      classIndex: 0,
      box: [(cx - w / 2) * input.width, (cy - h / 2) * input.height, (cx + w / 2) * input.width, (cy + h / 2) * input.height],
      ...(keypoints.length ? { keypoints } : {}),
    });
  }
  return found;
}

/** [4 + classes, anchors]: each anchor's best class (Ultralytics' single-label NMS input). */
function decodeYolo(data: Float32Array, shape: number[], threshold: number): RawDetection[] {
  if (shape.length !== 2 || shape[0]! < 5) throw new Error(`a YOLO output is [1, 4 + classes, anchors]; this one is [${shape.join(', ')}]`);
  const [rows, n] = shape as [number, number];
  const found: RawDetection[] = [];
  for (let i = 0; i < n; i += 1) {
    let best = 0;
    let score = -Infinity;
    for (let c = 4; c < rows; c += 1) {
      const s = data[c * n + i]!;
      if (s > score) {
        score = s;
        best = c - 4;
      }
    }
    if (!(score >= threshold)) continue;
    const cx = data[i]!;
    const cy = data[n + i]!;
    const w = data[2 * n + i]!;
    const h = data[3 * n + i]!;
    found.push({ score, classIndex: best, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  return found;
}

/** [detections, 6]: xmin, ymin, xmax, ymax, score, class. */
function decodeYoloEnd2End(data: Float32Array, shape: number[], threshold: number): RawDetection[] {
  if (shape.length !== 2 || shape[1] !== 6)
    throw new Error(`an end-to-end YOLO output is [1, detections, 6]; this one is [${shape.join(', ')}]`);
  const found: RawDetection[] = [];
  for (let i = 0; i < shape[0]!; i += 1) {
    const r = i * 6;
    const score = data[r + 4]!;
    if (!(score >= threshold)) continue;
    found.push({ score, classIndex: Math.round(data[r + 5]!), box: [data[r]!, data[r + 1]!, data[r + 2]!, data[r + 3]!] });
  }
  return found;
}

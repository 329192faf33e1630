/** A detection in the model's input pixels, before it is mapped back to the image. */
export interface RawDetection {
  score: number;
  classIndex: number;
  /** xmin, ymin, xmax, ymax. */
  box: [number, number, number, number];
  /** x, y pairs, when the model gives keypoints. */
  keypoints?: number[];
}

export function iou(a: RawDetection['box'], b: RawDetection['box']): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Best first; ties keep their input order (Array.prototype.sort is stable). */
function byScore(detections: readonly RawDetection[]): RawDetection[] {
  return [...detections].sort((a, b) => b.score - a.score);
}

/**
 * Class-aware greedy NMS (torchvision's batched_nms): a box is dropped when a better box of the
 * same class overlaps it by more than `iouThreshold`; boxes of other classes never suppress it.
 */
export function hardNms(detections: readonly RawDetection[], iouThreshold: number, maxDetections: number): RawDetection[] {
  const kept: RawDetection[] = [];
  // Each box is compared with the kept boxes of its own class only (80 classes: 80 times fewer).
  const keptByClass = new Map<number, RawDetection[]>();
  for (const d of byScore(detections)) {
    if (kept.length >= maxDetections) break;
    const same = keptByClass.get(d.classIndex) ?? [];
    if (same.some((k) => iou(k.box, d.box) > iouThreshold)) continue;
    same.push(d);
    keptByClass.set(d.classIndex, same);
    kept.push(d);
  }
  return kept;
}

/**
 * MediaPipe's weighted NMS (NonMaxSuppressionCalculator, WEIGHTED), per class: the best remaining
 * box takes every remaining box of its class overlapping it by more than `iouThreshold`, and
 * becomes their score-weighted mean (box and keypoints) with its own score. It steadies BlazeFace,
 * whose neighbouring anchors all fire on one face.
 */
export function weightedNms(detections: readonly RawDetection[], iouThreshold: number, maxDetections: number): RawDetection[] {
  let remaining = byScore(detections);
  const kept: RawDetection[] = [];
  while (remaining.length > 0 && kept.length < maxDetections) {
    const top = remaining[0]!;
    const group: RawDetection[] = [];
    const rest: RawDetection[] = [];
    for (const d of remaining) (d.classIndex === top.classIndex && iou(top.box, d.box) > iouThreshold ? group : rest).push(d);
    // The top box always overlaps itself, so the group is never empty.
    kept.push(blend(top, group));
    remaining = rest;
  }
  return kept;
}

function blend(top: RawDetection, group: readonly RawDetection[]): RawDetection {
  if (group.length === 1) return top;
  let total = 0;
  const box = [0, 0, 0, 0];
  const keypoints = top.keypoints ? new Array<number>(top.keypoints.length).fill(0) : undefined;
  for (const d of group) {
    total += d.score;
    for (let i = 0; i < 4; i += 1) box[i]! += d.box[i]! * d.score;
    if (keypoints) for (let i = 0; i < keypoints.length; i += 1) keypoints[i]! += (d.keypoints?.[i] ?? 0) * d.score;
  }
  return {
    score: top.score,
    classIndex: top.classIndex,
    box: [box[0]! / total, box[1]! / total, box[2]! / total, box[3]! / total],
    ...(keypoints ? { keypoints: keypoints.map((v) => v / total) } : {}),
  };
}

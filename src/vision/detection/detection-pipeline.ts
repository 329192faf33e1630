import type { Placement } from '../image-input.js';
import { decodeDetections, type InputSize, type Outputs } from './decoders.js';
import type { DetectionParameters } from './detection-parameters.js';
import { hardNms, type RawDetection, weightedNms } from './nms.js';

/** One object found, in Hugging Face's object-detection shape: whole pixels of the (EXIF-oriented) image. */
export interface DetectedObject {
  score: number;
  label: string;
  box: { xmin: number; ymin: number; xmax: number; ymax: number };
  keypoints?: Array<{ label: string; x: number; y: number }>;
}

export interface DetectSettings {
  threshold: number;
  iouThreshold: number;
  maxDetections: number;
}

/**
 * The detector's outputs to the objects in the image: decode (scores at least the threshold), keep
 * the best `maxCandidates`, NMS per class (not for end-to-end exports, whose graph did it), then
 * undo the letterbox or stretch and clamp to the image.
 */
export function detectionsFrom(
  p: DetectionParameters,
  outputs: Outputs,
  input: InputSize,
  placement: Placement,
  settings: DetectSettings,
  labels: readonly string[] | undefined,
): DetectedObject[] {
  const found = decodeDetections(p, outputs, input, settings.threshold);
  const candidates = found.length > p.maxCandidates ? found.sort((a, b) => b.score - a.score).slice(0, p.maxCandidates) : found;
  const kept =
    p.decoder === 'yolo-end2end'
      ? candidates.sort((a, b) => b.score - a.score).slice(0, settings.maxDetections)
      : (p.nms === 'weighted' ? weightedNms : hardNms)(candidates, settings.iouThreshold, settings.maxDetections);
  const keypointNames = p.decoder === 'ssd-anchors' ? p.keypoints : [];
  return kept.map((d) => toImage(d, placement, labels, keypointNames));
}

function toImage(d: RawDetection, at: Placement, labels: readonly string[] | undefined, keypointNames: readonly string[]): DetectedObject {
  const x = (v: number) => Math.round(Math.min(at.width, Math.max(0, (v - at.left) / at.scaleX)));
  const y = (v: number) => Math.round(Math.min(at.height, Math.max(0, (v - at.top) / at.scaleY)));
  const object: DetectedObject = {
    score: d.score,
    label: labels?.[d.classIndex] ?? `LABEL_${d.classIndex}`,
    box: { xmin: x(d.box[0]), ymin: y(d.box[1]), xmax: x(d.box[2]), ymax: y(d.box[3]) },
  };
  if (d.keypoints && keypointNames.length) {
    object.keypoints = keypointNames.map((label, k) => ({ label, x: x(d.keypoints![2 * k]!), y: y(d.keypoints![2 * k + 1]!) }));
  }
  return object;
}

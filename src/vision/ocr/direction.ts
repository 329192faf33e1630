/**
 * PaddleOCR's text direction classifier: is a line crop upright (class 0) or upside down (class 1)?
 */
import type { Tensor } from '../../contracts/tensor.js';
import type { RgbImage } from './image.js';
import { paddedBatch } from './recognition.js';

/** The classifier's fixed input width (its cls_image_shape 3,48,192). */
const DIRECTION_WIDTH = 192;
/** PaddleOCR's cls_thresh: a crop is turned only when the classifier is this sure. */
const FLIP_THRESHOLD = 0.9;

/** The input [N, 3, 48, 192]: crops as for recognition, squeezed when wider than 192. */
export function directionInput(crops: readonly RgbImage[]): Tensor {
  return paddedBatch(crops, DIRECTION_WIDTH, DIRECTION_WIDTH);
}

/** Whether row `index` of the [N, 2] softmax says the crop is upside down, surely enough to turn it. */
export function isUpsideDown(probs: Float32Array, index: number, threshold = FLIP_THRESHOLD): boolean {
  const upright = probs[index * 2]!;
  const flipped = probs[index * 2 + 1]!;
  return flipped > upright && flipped > threshold;
}

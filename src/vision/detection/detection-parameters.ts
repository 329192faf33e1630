import { z } from 'zod';

const anchors = z
  .object({
    numLayers: z.number().int().min(1).max(16),
    minScale: z.number().positive(),
    maxScale: z.number().positive(),
    strides: z.array(z.number().int().min(1)).min(1).max(16),
    aspectRatios: z.array(z.number().positive()).min(1).default([1]),
    anchorOffsetX: z.number().default(0.5),
    anchorOffsetY: z.number().default(0.5),
    reduceBoxesInLowestLayer: z.boolean().default(false),
    interpolatedScaleAspectRatio: z.number().min(0).default(1),
    fixedAnchorSize: z.boolean().default(true),
  })
  .strict();

/** What every detector's manifest may set: the route's defaults and the cost bound before NMS. */
const common = {
  threshold: z.number().min(0).max(1).default(0.5),
  iouThreshold: z.number().min(0).max(1).default(0.45),
  maxDetections: z.number().int().min(1).max(1000).default(100),
  /** The best boxes above the threshold NMS considers at most (its cost is quadratic in them). */
  maxCandidates: z.number().int().min(1).max(30_000).default(3000),
  /** hard: torchvision/Ultralytics greedy NMS; weighted: MediaPipe's score-weighted blending. Both per class. */
  nms: z.enum(['hard', 'weighted']).default('hard'),
};

/**
 * A detector's `parameters` in its manifest: how its outputs are decoded.
 * - `ssd-anchors` (MediaPipe BlazeFace): score logits and box regressors over SSD anchors generated
 *   from `anchors`; each output list is concatenated in order. A regressor row holds the box centre
 *   offset and size, then `keypoints` x, y pairs, in units of `boxScale` input pixels.
 * - `yolo` (Ultralytics YOLOv8/YOLO11 export): one output [1, 4 + classes, anchors] of centre x,
 *   centre y, width, height in input pixels, then class scores (already sigmoid); NMS here.
 * - `yolo-end2end` (exports with NMS in the graph): one output [1, detections, 6] of xmin, ymin,
 *   xmax, ymax in input pixels, score, class; only the threshold applies here.
 */
export const detectionParameters = z.discriminatedUnion('decoder', [
  z
    .object({
      decoder: z.literal('ssd-anchors'),
      scores: z.array(z.string().min(1)).min(1),
      boxes: z.array(z.string().min(1)).min(1),
      anchors,
      boxScale: z.number().positive(),
      keypoints: z.array(z.string().min(1)).default([]),
      /** Logits are clipped to ±scoreClip before the sigmoid, as MediaPipe does. */
      scoreClip: z.number().positive().default(100),
      ...common,
    })
    .strict(),
  z.object({ decoder: z.literal('yolo'), output: z.string().min(1), ...common }).strict(),
  z.object({ decoder: z.literal('yolo-end2end'), output: z.string().min(1), ...common }).strict(),
]);

export type DetectionParameters = z.infer<typeof detectionParameters>;
export type SsdParameters = Extract<DetectionParameters, { decoder: 'ssd-anchors' }>;

/** The outputs a detector's run must return. */
export function detectorOutputs(p: DetectionParameters): string[] {
  return p.decoder === 'ssd-anchors' ? [...p.scores, ...p.boxes] : [p.output];
}

/**
 * Detectors in the layouts of Ultralytics' ONNX exports, whose boxes are known by construction:
 * - `yolo`: `images` [batch, 3, S, S] -> `output0` [batch, 4 + classes, anchors] (centre x, centre y,
 *   width, height in input pixels, then class scores; no NMS), as YOLOv8/YOLO11 export;
 * - `yolo-end2end`: `images` [1, 3, S, S] -> `output0` [1, detections, 6] (xmin, ymin, xmax, ymax,
 *   score, class) with ONNX's NonMaxSuppression in the graph, as exports with NMS inside give.
 * Every class score is multiplied by the brightest input value (pixels / 255): a white image gives
 * the scores as constructed, a black one none, so the answers depend on the image sent.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { attr, encodeModel, type ModelSpec, tensor } from '../../src/onnx/onnx-builder.js';
import type { FakeRepo } from './fake-hub.js';

export const YOLO_SIZE = 64;
export const YOLO_LABELS = ['cat', 'dog', 'bird'];

/** An anchor's box in the ORIGINAL image's pixels, its class and its score. */
export interface KnownBox {
  box: [number, number, number, number];
  classIndex: number;
  score: number;
}

/** Where the test image lands in the 64 x 64 letterbox: input = image * scale + offset. */
export interface Letterbox {
  scale: number;
  left: number;
  top: number;
}

/** A 200 x 100 image letterboxed into 64 x 64: scale 0.32, 64 x 32, 16 rows of padding above. */
export const IMAGE = { width: 200, height: 100 };
export const LETTERBOX: Letterbox = { scale: 0.32, left: 0, top: 16 };

/**
 * The anchors: A and B overlap (IoU 0.84) and share a class, so NMS keeps A; C overlaps A more (0.90)
 * but is a dog, so it stays; D stands alone; E is under the threshold; the rest score nothing.
 */
export const ANCHORS: KnownBox[] = [
  { box: [25, 12.5, 100, 75], classIndex: 0, score: 0.9 },
  { box: [28.125, 15.625, 103.125, 78.125], classIndex: 0, score: 0.8 },
  { box: [25, 15.625, 100, 78.125], classIndex: 1, score: 0.7 },
  { box: [125, 25, 187.5, 87.5], classIndex: 2, score: 0.6 },
  { box: [150, 6.25, 190.625, 37.5], classIndex: 0, score: 0.3 },
  { box: [0, 0, 0, 0], classIndex: 0, score: 0 },
  { box: [0, 0, 0, 0], classIndex: 1, score: 0 },
  { box: [0, 0, 0, 0], classIndex: 2, score: 0 },
];
/** Every anchor's other classes score this little. */
const OTHER_SCORE = 0.01;

/** What the route must answer for a white image at threshold 0.5, IoU 0.45. */
export const EXPECTED = [ANCHORS[0]!, ANCHORS[2]!, ANCHORS[3]!];

function toInput(box: KnownBox['box'], at: Letterbox): [number, number, number, number] {
  return [box[0] * at.scale + at.left, box[1] * at.scale + at.top, box[2] * at.scale + at.left, box[3] * at.scale + at.top];
}

function scoreRows(): Float32Array {
  const classes = YOLO_LABELS.length;
  const n = ANCHORS.length;
  const scores = new Float32Array(classes * n);
  ANCHORS.forEach((a, i) => {
    for (let c = 0; c < classes; c += 1) scores[c * n + i] = c === a.classIndex ? a.score : a.score > 0 ? OTHER_SCORE : 0;
  });
  return scores;
}

/** The brightest pixel of each batch item, [batch, 1, 1]. */
const brightest = [
  { op: 'ReduceMax', inputs: ['images'], outputs: ['bright_flat'], attributes: { axes: attr.ints([1, 2, 3]), keepdims: attr.int(0) } },
  { op: 'Unsqueeze', inputs: ['bright_flat', 'axes12'], outputs: ['bright'] },
];
const axes12 = tensor('axes12', BigInt64Array.of(1n, 2n), [2]);

export function yoloGraph(at: Letterbox = LETTERBOX): ModelSpec {
  const classes = YOLO_LABELS.length;
  const n = ANCHORS.length;
  const rows = 4 + classes;
  // output = scores * bright + boxes: box rows come through untouched, score rows scale with the image.
  const boxes = new Float32Array(rows * n);
  ANCHORS.forEach((a, i) => {
    const [x0, y0, x1, y1] = toInput(a.box, at);
    boxes[i] = (x0 + x1) / 2;
    boxes[n + i] = (y0 + y1) / 2;
    boxes[2 * n + i] = x1 - x0;
    boxes[3 * n + i] = y1 - y0;
  });
  const scores = new Float32Array(rows * n);
  scores.set(scoreRows(), 4 * n);
  return {
    graphName: 'yolo-known-boxes',
    inputs: [{ name: 'images', type: 'float32', dims: ['batch', 3, YOLO_SIZE, YOLO_SIZE] }],
    outputs: [{ name: 'output0', type: 'float32', dims: ['batch', rows, n] }],
    initializers: [tensor('boxes', boxes, [1, rows, n]), tensor('scores', scores, [1, rows, n]), axes12],
    nodes: [
      ...brightest,
      { op: 'Mul', inputs: ['scores', 'bright'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['scaled', 'boxes'], outputs: ['output0'] },
    ],
  };
}

/** The same anchors through ONNX NonMaxSuppression (per class, IoU 0.45, score 0.25) in the graph. */
export function yoloEnd2EndGraph(at: Letterbox = LETTERBOX): ModelSpec {
  const classes = YOLO_LABELS.length;
  const n = ANCHORS.length;
  const boxes = new Float32Array(n * 4);
  ANCHORS.forEach((a, i) => boxes.set(toInput(a.box, at), i * 4));
  const i64 = (values: number[]) => BigInt64Array.from(values.map(BigInt));
  return {
    graphName: 'yolo-end2end-known-boxes',
    inputs: [{ name: 'images', type: 'float32', dims: [1, 3, YOLO_SIZE, YOLO_SIZE] }],
    outputs: [{ name: 'output0', type: 'float32', dims: [1, 'detections', 6] }],
    initializers: [
      tensor('boxes', boxes, [1, n, 4]),
      tensor('boxes2d', boxes, [n, 4]),
      tensor('class_scores', scoreRows(), [1, classes, n]),
      tensor('max_per_class', i64([100]), [1]),
      tensor('iou', Float32Array.of(0.45), [1]),
      tensor('min_score', Float32Array.of(0.25), [1]),
      tensor('col_class', i64([1]), []),
      tensor('col_box', i64([2]), []),
      tensor('axis1', i64([1]), [1]),
      tensor('axis0', i64([0]), [1]),
      axes12,
    ],
    nodes: [
      ...brightest,
      { op: 'Mul', inputs: ['class_scores', 'bright'], outputs: ['scores'] },
      { op: 'NonMaxSuppression', inputs: ['boxes', 'scores', 'max_per_class', 'iou', 'min_score'], outputs: ['selected'] },
      { op: 'Gather', inputs: ['selected', 'col_box'], outputs: ['box_index'], attributes: { axis: attr.int(1) } },
      { op: 'Gather', inputs: ['selected', 'col_class'], outputs: ['class_index'], attributes: { axis: attr.int(1) } },
      { op: 'Gather', inputs: ['boxes2d', 'box_index'], outputs: ['kept_boxes'], attributes: { axis: attr.int(0) } },
      { op: 'GatherND', inputs: ['scores', 'selected'], outputs: ['kept_scores'] },
      { op: 'Cast', inputs: ['class_index'], outputs: ['class_float'], attributes: { to: attr.int(1) } },
      { op: 'Unsqueeze', inputs: ['kept_scores', 'axis1'], outputs: ['score_column'] },
      { op: 'Unsqueeze', inputs: ['class_float', 'axis1'], outputs: ['class_column'] },
      { op: 'Concat', inputs: ['kept_boxes', 'score_column', 'class_column'], outputs: ['rows'], attributes: { axis: attr.int(1) } },
      { op: 'Unsqueeze', inputs: ['rows', 'axis0'], outputs: ['output0'] },
    ],
  };
}

const IMAGE_PREPROCESS = { width: YOLO_SIZE, height: YOLO_SIZE, fit: 'contain', channels: 'rgb', layout: 'nchw', background: 'black' };

/** Both models as files in `dir`, with their manifests. */
export async function writeYoloModels(dir: string): Promise<{ yolo: object; end2end: object }> {
  const rows = 4 + YOLO_LABELS.length;
  await writeFile(join(dir, 'yolo.onnx'), encodeModel(yoloGraph()));
  await writeFile(join(dir, 'yolo-end2end.onnx'), encodeModel(yoloEnd2EndGraph()));
  const yolo = {
    task: 'object-detection',
    license: 'MIT',
    source: { file: join(dir, 'yolo.onnx') },
    inputs: [{ name: 'images', datatype: 'FP32', shape: [3, YOLO_SIZE, YOLO_SIZE] }],
    outputs: [{ name: 'output0', datatype: 'FP32', shape: [rows, ANCHORS.length] }],
    labels: YOLO_LABELS,
    image: IMAGE_PREPROCESS,
    parameters: { decoder: 'yolo', output: 'output0', threshold: 0.5, iouThreshold: 0.45 },
    maxBatchSize: 8,
    dynamicBatching: { maxQueueDelayMicroseconds: 2000 },
  };
  const end2end = {
    task: 'object-detection',
    license: 'MIT',
    source: { file: join(dir, 'yolo-end2end.onnx') },
    inputs: [{ name: 'images', datatype: 'FP32', shape: [1, 3, YOLO_SIZE, YOLO_SIZE] }],
    outputs: [{ name: 'output0', datatype: 'FP32', shape: [1, -1, 6] }],
    labels: YOLO_LABELS,
    image: IMAGE_PREPROCESS,
    parameters: { decoder: 'yolo-end2end', output: 'output0', threshold: 0.5 },
  };
  return { yolo, end2end };
}

/** The raw-layout model as a Transformers.js-layout Hub repository (config.json names the YOLO model type and the labels). */
export function yoloRepo(id: string): FakeRepo {
  const config = { model_type: 'yolov8', id2label: Object.fromEntries(YOLO_LABELS.map((l, i) => [i, l])) };
  return {
    id,
    cardData: { license: 'agpl-3.0', library_name: 'ultralytics' },
    files: [
      { path: 'config.json', content: Buffer.from(JSON.stringify(config, null, 2)) },
      { path: 'onnx/model.onnx', content: Buffer.from(encodeModel(yoloGraph())) },
    ],
  };
}

/** An image of IMAGE's size: coloured noise with a white corner (the detectors' scores scale with the brightest pixel). */
export async function noisePng(white = true): Promise<{ png: Buffer; rgb: Buffer }> {
  const rgb = Buffer.alloc(IMAGE.width * IMAGE.height * 3);
  let seed = 7;
  for (let i = 0; i < rgb.length; i += 1) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    rgb[i] = 40 + ((seed >>> 16) % 160);
  }
  // A white square, so resizing to the model's input keeps a white pixel.
  if (white) for (let y = 0; y < 12; y += 1) rgb.fill(255, y * IMAGE.width * 3, (y * IMAGE.width + 12) * 3);
  const png = await sharp(rgb, { raw: { width: IMAGE.width, height: IMAGE.height, channels: 3 } })
    .png()
    .toBuffer();
  return { png, rgb };
}

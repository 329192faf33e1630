/**
 * PaddleOCR v4 as three model calls: detect text regions, turn upside-down lines (optional), read
 * each line. Everything between the calls is pure and runs on the calling thread.
 */
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { NamedTensors, Tensor } from '../../contracts/tensor.js';
import type { RunModel } from '../../tasks/run-model.js';
import { boxesFromMap, DEFAULT_DETECTION, type DetectionParams, detectionInput } from './detection.js';
import { directionInput, isUpsideDown } from './direction.js';
import { type Point, type Quad, type RgbImage, rotate180 } from './image.js';
import { readingOrder } from './reading-order.js';
import { ctcAlphabet, ctcDecode, type DecodedLine, foldFullWidth, lineCrop, lineLength, recognitionInput } from './recognition.js';

export type { Point, RgbImage };

export interface OcrLine {
  text: string;
  confidence: number;
  /** Clockwise from top-left, original-image pixels. */
  box: [Point, Point, Point, Point];
}

/** Model names passed to RunModel. */
export interface OcrModels {
  detection: string;
  direction?: string;
  recognition: string;
}

export interface OcrOptions extends Partial<DetectionParams> {
  /** Lines read with a lower confidence are dropped (PaddleOCR's drop_score). */
  minConfidence?: number;
  /**
   * Regions read at most: each costs a crop and a share of a recognition call, and a page of noise
   * can yield up to the detector's 1000 candidates. Beyond it, the first ones in reading order are read.
   */
  maxLines?: number;
}

export interface OcrResult {
  lines: OcrLine[];
  /** The lines' text joined with newlines. */
  text: string;
}

/** Tensor names in the PaddleOCR exports (ch_PP-OCRv4_det, ch_ppocr_mobile_v2.0_cls, ch_PP-OCRv4_rec). */
export const OCR_TENSORS = Object.freeze({
  input: 'x',
  detection: 'sigmoid_0.tmp_0',
  direction: 'softmax_0.tmp_0',
  recognition: 'softmax_11.tmp_0',
});

export const DEFAULT_MIN_CONFIDENCE = 0.5;
/** Crops per cls or rec call; the runtime may batch further across requests. */
export const CROPS_PER_CALL = 16;

export async function runOcr(
  image: RgbImage,
  models: OcrModels,
  dictionary: readonly string[],
  run: RunModel,
  options: OcrOptions = {},
): Promise<OcrResult> {
  if (image.width < 1 || image.height < 1) return { lines: [], text: '' };
  const params = withDefaults(options);
  const boxes = firstInReadingOrder(await detect(image, models.detection, run, params), options.maxLines ?? Infinity);
  const crops = new LineCrops(image, boxes);
  if (models.direction) await turnUpsideDown(crops, models.direction, run);
  const read = await recognise(crops, models.recognition, ctcAlphabet(dictionary), run);
  const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  const kept = read
    .map((line, i) => ({ text: foldFullWidth(line.text).trim(), confidence: line.confidence, box: boxes[i]! }))
    .filter((line) => line.text !== '' && line.confidence >= minConfidence);
  const lines = readingOrder(kept.map((l) => l.box)).map((i) => ({ ...kept[i]!, box: roundQuad(kept[i]!.box) }));
  return { lines, text: lines.map((l) => l.text).join('\n') };
}

/**
 * The boxes' line images, straightened when first asked for. The pipeline asks batch by batch,
 * just before each model call, so no single turn of the event loop crops every line of a page.
 */
class LineCrops {
  private readonly crops: Array<RgbImage | undefined>;

  constructor(
    private readonly image: RgbImage,
    readonly boxes: readonly Quad[],
  ) {
    this.crops = new Array(boxes.length);
  }

  get(i: number): RgbImage {
    return (this.crops[i] ??= lineCrop(this.image, this.boxes[i]!));
  }

  turn(i: number): void {
    this.crops[i] = rotate180(this.get(i));
  }
}

function firstInReadingOrder(boxes: Quad[], max: number): Quad[] {
  if (boxes.length <= max) return boxes;
  return readingOrder(boxes)
    .slice(0, max)
    .map((i) => boxes[i]!);
}

function withDefaults(options: OcrOptions): DetectionParams {
  const params: DetectionParams = { ...DEFAULT_DETECTION };
  for (const key of Object.keys(params) as Array<keyof DetectionParams>) {
    const value = options[key];
    if (value !== undefined) params[key] = value;
  }
  return params;
}

async function detect(image: RgbImage, model: string, run: RunModel, params: DetectionParams): Promise<Quad[]> {
  const input = detectionInput(image, params.maxSide);
  const map = await runOne(run, model, input, OCR_TENSORS.detection);
  const [mapHeight, mapWidth] = map.shape.slice(-2) as [number, number];
  return boxesFromMap(map.data as Float32Array, mapWidth, mapHeight, image.width, image.height, params).map((b) => b.box);
}

async function turnUpsideDown(crops: LineCrops, model: string, run: RunModel): Promise<void> {
  for (const batch of chunks(
    crops.boxes.map((_, i) => i),
    CROPS_PER_CALL,
  )) {
    const input = directionInput(batch.map((i) => crops.get(i)));
    const probs = (await runOne(run, model, input, OCR_TENSORS.direction)).data as Float32Array;
    batch.forEach((i, row) => {
      if (isUpsideDown(probs, row)) crops.turn(i);
    });
  }
}

/**
 * Reads the lines in batches of similar length, so little of each batch is padding, and returns
 * them in the boxes' order.
 */
async function recognise(crops: LineCrops, model: string, alphabet: readonly string[], run: RunModel): Promise<DecodedLine[]> {
  const lengths = crops.boxes.map((box) => lineLength(box).length);
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const lines: DecodedLine[] = new Array(lengths.length);
  for (const batch of chunks(order, CROPS_PER_CALL)) {
    const output = await runOne(run, model, recognitionInput(batch.map((i) => crops.get(i))), OCR_TENSORS.recognition);
    const [, steps, classes] = output.shape as [number, number, number];
    if (classes !== alphabet.length) {
      throw new AppError(ErrorCode.Internal, `the recognition model has ${classes} classes but its dictionary gives ${alphabet.length}`);
    }
    batch.forEach((i, row) => (lines[i] = ctcDecode(output.data as Float32Array, steps, alphabet, row)));
  }
  return lines;
}

async function runOne(run: RunModel, model: string, input: Tensor, output: string): Promise<Tensor> {
  const outputs: NamedTensors = await run(model, { [OCR_TENSORS.input]: input }, [output]);
  const tensor = outputs[output];
  if (!tensor || !(tensor.data instanceof Float32Array)) {
    throw new AppError(ErrorCode.Internal, `model ${model} returned no FP32 output ${output}`);
  }
  return tensor;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A tenth of a pixel is finer than any detector box is accurate. */
function roundQuad(quad: Quad): Quad {
  return quad.map(([x, y]) => [Math.round(x * 10) / 10, Math.round(y * 10) / 10]) as Quad;
}

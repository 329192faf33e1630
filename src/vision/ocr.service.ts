import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { type MediaRequest, mediaOptions, opt, parseOptions } from '../tasks/media-input.js';
import { TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { decodeRgb } from './image-input.js';
import { DEFAULT_MIN_CONFIDENCE, type OcrLine, runOcr } from './ocr/ocr-pipeline.js';
import { checkModelInputs } from '../tasks/input-count.js';
import { defaultModelFor, tasksFor } from '../contracts/task-table.js';

export const DEFAULT_OCR_MODEL = defaultModelFor('ocrRecognition');

export const ocrOptions = mediaOptions({
  model: opt.model().default(DEFAULT_OCR_MODEL),
  min_confidence: opt.number(0, 1).default(DEFAULT_MIN_CONFIDENCE),
  max_side: opt.int(64, 4096).default(960),
});

/** A recognition model's manifest names the detection and (optional) direction models it pairs with. */
const pipelineParameters = z.object({ detection: z.string().min(1), direction: z.string().min(1).optional() });

export interface OcrReply {
  model: string;
  version: string;
  width: number;
  height: number;
  text: string;
  lines: OcrLine[];
}

/** PaddleOCR: detection, 0/180 degree direction, CTC recognition with the manifest's dictionary. */
@Injectable()
export class OcrService {
  constructor(
    private readonly tasks: TaskModels,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async read(media: MediaRequest, trace: TaskTrace): Promise<OcrReply[]> {
    const o = parseOptions(ocrOptions, media.options);
    const { ocrMaxSide, ocrMaxLines } = this.config.media;
    // The detector's input is built on this thread (ocr-pipeline.ts): its side bounds that work.
    const askedSide = media.options.max_side !== undefined;
    if (askedSide && o.max_side > ocrMaxSide) {
      throw new AppError(ErrorCode.ValidationFailed, `max_side ${o.max_side} is above this server's limit of ${ocrMaxSide}`);
    }
    const maxSide = Math.min(o.max_side, ocrMaxSide);
    const recognition = await this.tasks.get(o.model, tasksFor('ocrRecognition'), trace);
    const parsed = pipelineParameters.safeParse(recognition.manifest.parameters);
    if (!parsed.success) {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${o.model}" does not name its detection model in its manifest's parameters`);
    }
    const { detection, direction } = parsed.data;
    const dictionary = recognition.labels;
    if (!dictionary) throw new AppError(ErrorCode.ModelLoadFailed, `model "${o.model}" has no dictionary (labels) in its manifest`);
    // Fail fast, before decoding, when a paired model is missing or of the wrong kind.
    // One detection run per image, queued at once.
    checkModelInputs(await this.tasks.get(detection, tasksFor('ocrDetection'), trace), media.items.length, 'images');
    if (direction) await this.tasks.get(direction, tasksFor('ocrDirection'), trace);
    const run = this.tasks.runModel(trace);
    return Promise.all(
      media.items.map(async (item) => {
        const image = await trace.decoding(decodeRgb(item.bytes, this.config.media, item.source));
        const result = await runOcr(image, { detection, direction, recognition: o.model }, dictionary, run, {
          minConfidence: o.min_confidence,
          maxSide,
          maxLines: ocrMaxLines,
        });
        return { model: o.model, version: recognition.version, width: image.width, height: image.height, ...result };
      }),
    );
  }
}

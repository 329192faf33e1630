import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { defaultModelFor, tasksFor } from '../contracts/task-table.js';
import { checkModelInputs } from '../tasks/input-count.js';
import { type MediaRequest, mediaOptions, opt, parseOptions } from '../tasks/media-input.js';
import { type TaskModel, TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { type DetectedObject, detectionsFrom } from './detection/detection-pipeline.js';
import { type DetectionParameters, detectionParameters, detectorOutputs } from './detection/detection-parameters.js';
import { type RenderFormat, renderDetections } from './detection/render.js';
import { imageForDetector } from './image-input.js';
import { imageInputs } from './image-model-input.js';

const DETECT_TASKS = tasksFor('visionDetect');
export const DEFAULT_DETECT_MODEL = defaultModelFor('visionDetect');

export const detectOptions = mediaOptions({
  model: opt.model().default(DEFAULT_DETECT_MODEL),
  threshold: opt.number(0, 1).optional().describe("lowest score kept; default the model's (BlazeFace 0.5)"),
  iou_threshold: opt
    .number(0, 1)
    .optional()
    .describe("NMS: overlap above which the lower-scoring box of a class goes; default the model's"),
  max_detections: opt.int(1, 1000).optional().describe("objects per image at most, best first; default the model's (100)"),
  render: opt.bool().default(false).describe('answer the image (PNG) with the objects drawn on it instead of JSON; one image only'),
});

/** A rendered answer: the image with its objects drawn, and its content type. */
export interface RenderedImage {
  image: Buffer;
  contentType: string;
}

export type DetectAnswer = RenderedImage | { json: DetectedObject[] | DetectedObject[][] | undefined };

/**
 * Object detection for any detector a manifest describes: its resize (letterbox or stretch), how its
 * outputs decode (SSD anchors, YOLO, YOLO with NMS in the graph), NMS and defaults.
 */
@Injectable()
export class DetectService {
  constructor(
    private readonly tasks: TaskModels,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * What the route answers: the objects (a list per image when the client sent a list), or the
   * drawn image when the request asks for one (see renderFormat).
   */
  async answer(media: MediaRequest, accept: string | undefined, trace: TaskTrace): Promise<DetectAnswer> {
    const format = renderFormat(media, accept);
    if (format) return this.render(media, trace, format);
    const results = await this.detect(media, trace);
    return { json: media.batch ? results : results[0] };
  }

  /** One list of objects per image, best first. */
  async detect(media: MediaRequest, trace: TaskTrace): Promise<DetectedObject[][]> {
    return (await this.detectEach(media, trace)).map((r) => r.objects);
  }

  /**
   * The image with its objects drawn on it. `format` comes from the Accept header; `?render=true`
   * alone gives PNG.
   */
  private async render(media: MediaRequest, trace: TaskTrace, format: RenderFormat): Promise<RenderedImage> {
    if (media.items.length !== 1) {
      throw new AppError(ErrorCode.ValidationFailed, `render draws on one image; this request sent ${media.items.length}`);
    }
    const [{ objects, labels }] = (await this.detectEach(media, trace)) as [{ objects: DetectedObject[]; labels: string[] }];
    const item = media.items[0]!;
    const image = await trace.decoding(renderDetections(item.bytes, objects, labels, this.config.media, format, item.source));
    return { image, contentType: `image/${format}` };
  }

  private async detectEach(media: MediaRequest, trace: TaskTrace): Promise<Array<{ objects: DetectedObject[]; labels: string[] }>> {
    const o = parseOptions(detectOptions, media.options);
    const model = await this.tasks.get(o.model, DETECT_TASKS, trace);
    const params = this.parameters(model);
    const pre = model.manifest.image!;
    checkModelInputs(model, media.items.length, 'images');
    const settings = {
      threshold: o.threshold ?? params.threshold,
      iouThreshold: o.iou_threshold ?? params.iouThreshold,
      maxDetections: o.max_detections ?? params.maxDetections,
    };
    const labels = model.labels ?? [];
    const outputs = detectorOutputs(params);
    // One runner request per image, queued at once: the batcher merges them with other clients' images.
    return Promise.all(
      media.items.map(async (item) => {
        const { data, placement } = await trace.decoding(imageForDetector(item.bytes, pre, this.config.media, item.source));
        const result = await this.tasks.run(model, imageInputs(model, data), outputs, trace);
        try {
          return { objects: detectionsFrom(params, result, { width: pre.width, height: pre.height }, placement, settings, labels), labels };
        } catch (err) {
          // A manifest whose decoder does not fit the graph's outputs: the model is unusable, not the request.
          throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}": ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
  }

  private parameters(model: TaskModel): DetectionParameters {
    if (!model.manifest.image) {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}" has no "image" preprocessing in its manifest`);
    }
    if (model.manifest.image.fit === 'crop' || model.manifest.image.trim) {
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}": a detector's image "fit" is "contain" or "stretch", untrimmed`);
    }
    const parsed = detectionParameters.safeParse(model.manifest.parameters);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'parameters'}: ${i.message}`).join('; ');
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${model.name}" has invalid detection parameters: ${problems}`);
    }
    return parsed.data;
  }
}

/**
 * Whether a request asks for the drawn image: `render=true` (PNG, or JPEG when Accept names it), or
 * no `render` option and an Accept header naming image/png or image/jpeg and not JSON.
 */
export function renderFormat(media: MediaRequest, accept: string | undefined): RenderFormat | undefined {
  const asked = media.options.render;
  const accepted = /image\/(png|jpeg)/.exec(accept ?? '')?.[1] as RenderFormat | undefined;
  if (asked === true || asked === 'true' || asked === '1') return accepted ?? 'png';
  if (asked === undefined && accepted && !/application\/json|\*\/\*/.test(accept ?? '')) return accepted;
  return undefined;
}

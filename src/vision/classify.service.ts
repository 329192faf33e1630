import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { type MediaRequest, mediaOptions, opt, parseOptions } from '../tasks/media-input.js';
import { type LabelScore, type ScoreFunction, toScores, topK } from '../tasks/scores.js';
import { type TaskModel, TaskModels, TaskTrace } from '../tasks/task-models.service.js';
import { imageToTensor } from './image-input.js';
import { imageInputs } from './image-model-input.js';
import { checkModelInputs } from '../tasks/input-count.js';
import { tasksFor } from '../contracts/task-table.js';

const CLASSIFY_TASKS = tasksFor('visionClassify');

export const classifyOptions = mediaOptions({
  model: opt.model().meta({ example: 'math-symbols' }),
  top_k: opt.int(1, 100_000).default(5).describe('labels per image, best first'),
});

const modelParameters = z.object({
  scores: z.enum(['softmax', 'sigmoid', 'none']).default('softmax'),
  /** The output whose values are the image's features when the model is a fine-tuning backbone; default the first. */
  features: z.string().min(1).optional(),
});

/** A head trained over an image backbone's features (a fine-tuned model) names its backbone. */
const headParameters = z.object({ backbone: z.string().min(1), scores: z.enum(['softmax', 'sigmoid', 'none']).default('softmax') });

/** Image classification for any classifier a manifest describes (size, crop, normalisation, labels). */
@Injectable()
export class ClassifyService {
  constructor(
    private readonly tasks: TaskModels,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** One `[{label, score}]` per image, best first. */
  async classify(media: MediaRequest, trace: TaskTrace): Promise<LabelScore[][]> {
    const { model: name, top_k } = parseOptions(classifyOptions, media.options);
    const model = await this.tasks.get(name, CLASSIFY_TASKS, trace);
    const head = headParameters.safeParse(model.manifest.parameters);
    if (head.success) {
      // One backbone run, then one head run, per image.
      checkModelInputs(await this.tasks.get(head.data.backbone, CLASSIFY_TASKS, trace), media.items.length, 'images');
      checkModelInputs(model, media.items.length, 'images');
      const features = await this.features(
        head.data.backbone,
        media.items.map((i) => i.bytes),
        trace,
        media.items.map((i) => i.source),
      );
      return Promise.all(
        features.map(async (f) => topK(toScores(await this.runOne(model, f, trace), head.data.scores), model.labels, top_k)),
      );
    }
    const pre = model.manifest.image;
    if (!pre) throw new AppError(ErrorCode.ModelLoadFailed, `model "${name}" has no "image" preprocessing in its manifest`);
    const { scores } = modelParameters.parse(model.manifest.parameters);
    checkModelInputs(model, media.items.length, 'images');
    const images = await trace.decoding(
      Promise.all(media.items.map((item) => imageToTensor(item.bytes, pre, this.config.media, item.source))),
    );
    // One runner request per image: the dynamic batcher merges them with other clients' images.
    const logits = await Promise.all(images.map((data) => this.runOne(model, data, trace)));
    return logits.map((l) => topK(toScores(l, scores as ScoreFunction), model.labels, top_k));
  }

  /**
   * The features an image backbone gives images: its `features` output (default its first), as
   * fine-tuning trains heads on them and fine-tuned image models serve with them.
   */
  async features(backbone: string, images: readonly Buffer[], trace: TaskTrace, sources?: readonly string[]): Promise<Float32Array[]> {
    const model = await this.tasks.get(backbone, CLASSIFY_TASKS, trace);
    const pre = model.manifest.image;
    if (!pre) throw new AppError(ErrorCode.ModelLoadFailed, `model "${backbone}" has no "image" preprocessing in its manifest`);
    const output = modelParameters.parse(model.manifest.parameters).features;
    const tensors = await trace.decoding(
      Promise.all(images.map((bytes, i) => imageToTensor(bytes, pre, this.config.media, sources?.[i] ?? `image ${i}`))),
    );
    return Promise.all(tensors.map((data) => this.runOne(model, data, trace, output)));
  }

  private async runOne(model: TaskModel, data: Float32Array, trace: TaskTrace, outputName?: string): Promise<Float32Array> {
    const output = outputName ?? model.manifest.outputs[0]!.name;
    const result = await this.tasks.run(model, imageInputs(model, data), [output], trace);
    return result[output]!.data as Float32Array;
  }
}

import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { EmbeddingsService } from '../../nlp/embeddings.service.js';
import { TaskTrace } from '../../tasks/task-models.service.js';
import { ClassifyService } from '../../vision/classify.service.js';
import type { Example } from '../files/dataset-parser.js';
import type { Backbone } from './backbones.service.js';
import { type CachedFeatures, FeaturesRepository } from './features.repository.js';

/** Texts per call into the backbone: its runner's queue bounds the batches in flight, and a cancel is seen between calls. */
const CHUNK = 512;
/** Images per call: decoding holds their pixels in memory. */
const IMAGE_CHUNK = 32;
const OVERLOAD_RETRIES = 20;
const OVERLOAD_WAIT_MS = 250;

export interface FeatureSet extends CachedFeatures {
  /** sha256 of the examples' inputs in order: the cache key's dataset half. */
  datasetSha256: string;
  cached: boolean;
}

/**
 * Backbone features of a dataset's examples, exactly as the backbone serves them (the vectors
 * /v1/embeddings answers), cached in Postgres per (dataset sha256, backbone sha256).
 */
@Injectable()
export class BackboneFeaturesService {
  private readonly logger = new Logger('FineTuning');

  constructor(
    private readonly embeddings: EmbeddingsService,
    private readonly cache: FeaturesRepository,
    private readonly classifier: ClassifyService,
  ) {}

  async features(backbone: Backbone, backboneSha256: string, examples: readonly Example[], shouldStop: () => boolean): Promise<FeatureSet> {
    const other = examples.find((e) => e.kind !== backbone.input);
    if (other)
      throw new AppError(
        ErrorCode.ValidationFailed,
        `backbone "${backbone.name}" takes ${backbone.input}; the dataset has ${other.kind} inputs`,
      );
    const texts = examples.map((e) => e.input);
    const datasetSha256 = datasetHash(texts);
    const hit = await this.cache.find(datasetSha256, backboneSha256);
    if (hit && hit.rows === texts.length) return { ...hit, datasetSha256, cached: true };
    const computed =
      backbone.input === 'image' ? await this.computeImages(backbone, texts, shouldStop) : await this.compute(backbone, texts, shouldStop);
    await this.cache.save(datasetSha256, backboneSha256, computed);
    return { ...computed, datasetSha256, cached: false };
  }

  private async compute(backbone: Backbone, texts: readonly string[], shouldStop: () => boolean): Promise<CachedFeatures> {
    const trace = new TaskTrace();
    let features: Float32Array | undefined;
    let dim = 0;
    let tokens = 0;
    for (let start = 0; start < texts.length; start += CHUNK) {
      if (shouldStop()) throw new FeaturesStopped();
      const chunk = texts.slice(start, start + CHUNK);
      const { vectors, tokens: read } = await this.withRetry(() => this.embeddings.features(backbone.name, chunk, trace));
      tokens += read;
      if (!features) {
        dim = vectors[0]!.length;
        features = new Float32Array(texts.length * dim);
      }
      vectors.forEach((v, i) => features!.set(v, (start + i) * dim));
    }
    return { rows: texts.length, dim, tokens, features: features! };
  }

  /** Image examples are base64: decoded and preprocessed as the backbone's manifest says, then run. */
  private async computeImages(backbone: Backbone, images: readonly string[], shouldStop: () => boolean): Promise<CachedFeatures> {
    const trace = new TaskTrace();
    let features: Float32Array | undefined;
    let dim = 0;
    for (let start = 0; start < images.length; start += IMAGE_CHUNK) {
      if (shouldStop()) throw new FeaturesStopped();
      const chunk = images.slice(start, start + IMAGE_CHUNK).map((b64) => Buffer.from(b64, 'base64'));
      const sources = chunk.map((_, i) => `example ${start + i + 1}`);
      const vectors = await this.withRetry(() => this.classifier.features(backbone.name, chunk, trace, sources));
      if (!features) {
        dim = vectors[0]!.length;
        features = new Float32Array(images.length * dim);
      }
      vectors.forEach((v, i) => features!.set(v, (start + i) * dim));
    }
    return { rows: images.length, dim, tokens: 0, features: features! };
  }

  /**
   * Serving traffic shares the backbone's queue: when it is full, wait and try again rather than fail
   * the job. So too when the backbone is being reloaded (a repository `load` with a new
   * configuration): a call that reached the old sessions as they closed gets 503 UNAVAILABLE, and the
   * next one waits for the new sessions. A backbone that stays unavailable fails the job after the
   * same bounded number of tries.
   */
  private async withRetry<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await work();
      } catch (err) {
        const transient = err instanceof AppError && (err.code === ErrorCode.Overloaded || err.code === ErrorCode.Unavailable);
        if (!transient || attempt >= OVERLOAD_RETRIES) throw err;
        this.logger.debug(
          `backbone ${err.code === ErrorCode.Overloaded ? 'overloaded' : 'unavailable'}; retrying in ${OVERLOAD_WAIT_MS} ms`,
        );
        await new Promise((r) => setTimeout(r, OVERLOAD_WAIT_MS));
      }
    }
  }
}

/** Thrown when the job is cancelled (or handed back) while its features are computed. */
export class FeaturesStopped extends Error {
  override readonly name = 'FeaturesStopped';
}

/** The cache key's dataset half: the inputs in order (labels do not change features). */
export function datasetHash(inputs: readonly string[]): string {
  const h = createHash('sha256');
  for (const input of inputs) h.update(`${Buffer.byteLength(input)}:`).update(input);
  return h.digest('hex');
}

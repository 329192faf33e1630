import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { taskRow } from '../contracts/task-table.js';
import { type ModelToStart, WorkerPlanners } from '../runtime/worker-planners.js';
import { generationParameters, type GenerationWorkerConfig } from './generation-worker-config.js';

const EXTENSION = new URL('./generate.worker-handler.js', import.meta.url).href;

/** Seconds a client refused for a full engine is told to wait. */
const RETRY_AFTER_SECONDS = 1;

/**
 * A decoder-only model (the task table's `decoder`) in a Hugging Face-layout folder is served by
 * session workers that run its decode loop: they tokenize, batch sequences step by step, sample
 * and detokenize, and stream what they decode.
 */
@Injectable()
export class GenerationWorkers {
  constructor(planners: WorkerPlanners, @InjectConfig() config: AppConfig) {
    planners.register((model) => {
      const generate = generationWorkerConfigOf(model, config);
      return generate && { kind: 'session-generate', modelPath: model.modelPath, generate: { module: EXTENSION, config: generate } };
    });
  }
}

export function generationWorkerConfigOf({ name, manifest, folder }: ModelToStart, config: AppConfig): GenerationWorkerConfig | undefined {
  if (taskRow(manifest.task)?.decoder !== 'causal-lm') return undefined;
  if (!folder || manifest.runtime !== 'onnxruntime') {
    throw new Error(
      `model "${name}": a text-generation model is served from a Hugging Face-layout folder ("source": {"huggingface": ...}) by ONNX Runtime`,
    );
  }
  const params = generationParameters.parse(manifest.parameters);
  const defaults = config.generation;
  return {
    model: name,
    folder,
    cacheDir: config.database.embedded.dataDir,
    maxSequences: params.maxSequences ?? defaults.maxSequences,
    kvCacheBytes: params.kvCacheBytes ?? defaults.kvCacheBytes,
    queue: params.queue ?? defaults.queue,
    prefillChunkTokens: params.prefillChunkTokens ?? defaults.prefillChunkTokens,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    lastPositionLogits: params.lastPositionLogits ?? true,
  };
}

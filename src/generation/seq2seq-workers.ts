import { posix } from 'node:path';
import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { taskRow } from '../contracts/task-table.js';
import { type ModelToStart, WorkerPlanners } from '../runtime/worker-planners.js';
import { seq2seqParameters, type Seq2SeqWorkerConfig } from './seq2seq-worker-config.js';

const EXTENSION = new URL('./seq2seq.worker-handler.js', import.meta.url).href;
const RETRY_AFTER_SECONDS = 1;
const DEFAULT_DECODER = 'onnx/decoder_model_merged.onnx';

/**
 * An encoder-decoder text model (the task table's `decoder: 'seq2seq'`) in a Hugging Face-layout
 * folder is served by session workers whose session is its encoder and whose generate extension
 * opens the merged decoder beside it and batches the decode steps.
 */
@Injectable()
export class Seq2SeqWorkers {
  constructor(planners: WorkerPlanners, @InjectConfig() config: AppConfig) {
    planners.register((model) => {
      const generate = seq2seqWorkerConfigOf(model, config);
      return generate && { kind: 'session-generate', modelPath: model.modelPath, generate: { module: EXTENSION, config: generate } };
    });
  }
}

export function seq2seqWorkerConfigOf({ name, manifest, folder }: ModelToStart, config: AppConfig): Seq2SeqWorkerConfig | undefined {
  if (taskRow(manifest.task)?.decoder !== 'seq2seq') return undefined;
  if (!folder || manifest.runtime !== 'onnxruntime') {
    throw new Error(
      `model "${name}": a ${manifest.task} model is served from a Hugging Face-layout folder ("source": {"huggingface": ...}) by ONNX Runtime`,
    );
  }
  const params = seq2seqParameters.parse(manifest.parameters);
  const decoderFile = params.decoder?.file ?? DEFAULT_DECODER;
  if (posix.isAbsolute(decoderFile) || decoderFile.split('/').includes('..')) {
    throw new Error(`model "${name}": parameters.decoder.file must be a path inside the model's folder`);
  }
  return {
    model: name,
    folder,
    decoderFile,
    cacheDir: config.database.embedded.dataDir,
    maxRows: params.maxSequences ?? config.generation.maxSequences,
    queue: params.queue ?? config.generation.queue,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  };
}

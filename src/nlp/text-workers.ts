import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { taskRow } from '../contracts/task-table.js';
import { type ModelToStart, WorkerPlanners } from '../runtime/worker-planners.js';
import { textParameters } from './text-features.js';
import type { TextWorkerConfig } from './text-worker-config.js';

const EXTENSION = new URL('./text-embed.worker-handler.js', import.meta.url).href;

/**
 * A Hugging Face-layout text model that gives one vector per text (an encoder's pooled embedding,
 * a sequence classifier's logits) run by ONNX Runtime is served whole by its workers: they
 * tokenize and pool as well as run, so none of that work lands on the thread that answers HTTP.
 * Which tasks those are is the task table's `textWorkers`.
 */
@Injectable()
export class TextWorkers {
  constructor(planners: WorkerPlanners, @InjectConfig() config: AppConfig) {
    const dataDir = config.database.embedded.dataDir;
    planners.register((model) => {
      const embed = textWorkerConfigOf(model, dataDir);
      return embed && { kind: 'session-embed', modelPath: model.modelPath, embed: { module: EXTENSION, config: embed } };
    });
  }
}

export function textWorkerConfigOf({ name, manifest, folder }: ModelToStart, dataDir: string): TextWorkerConfig | undefined {
  const served = taskRow(manifest.task)?.textWorkers;
  if (!folder || manifest.runtime !== 'onnxruntime' || !served) return undefined;
  const classifier = served === 'logits';
  const params = textParameters.parse(manifest.parameters);
  return {
    model: name,
    folder,
    cacheDir: dataDir,
    inputs: manifest.inputs.map((t) => t.name),
    output: params.output ?? manifest.outputs[0]!.name,
    // A classifier's logits are read as they are.
    pooling: classifier ? 'none' : params.pooling,
    normalize: classifier ? false : params.normalize,
    maxLength: params.maxLength,
    maxBatchSize: Math.max(1, manifest.maxBatchSize),
  };
}

import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { tasksFor } from '../contracts/task-table.js';
import { WorkerPlanners } from '../runtime/worker-planners.js';
import type { TranscriptionPipelineConfig } from './transcription-pipeline.js';

const EXTENSION = new URL('./transcription.worker-handler.js', import.meta.url).href;

/** Transcription models with `"runtime": "transformers"` run as Transformers.js pipelines in their workers. */
@Injectable()
export class TranscriptionWorkers {
  constructor(planners: WorkerPlanners, @InjectConfig() config: AppConfig) {
    const tasks: readonly string[] = tasksFor('transcriptions');
    planners.register(({ manifest, folder }) => {
      if (manifest.runtime !== 'transformers' || !tasks.includes(manifest.task)) return undefined;
      if (!folder) throw new Error('a model served by Transformers.js needs a "huggingface" source folder');
      const dtype = typeof manifest.parameters.dtype === 'string' ? manifest.parameters.dtype : 'fp32';
      const pipeline: TranscriptionPipelineConfig = { task: manifest.task, folder, dtype, cacheDir: config.database.embedded.dataDir };
      return { kind: 'pipeline', pipeline: { module: EXTENSION, config: pipeline } };
    });
  }
}

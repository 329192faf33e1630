import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { tasksFor } from '../contracts/task-table.js';
import { WorkerPlanners } from '../runtime/worker-planners.js';
import type { SpeechPipelineConfig } from './speech-pipeline.js';

/** The worker extension of each speech use whose models run as Transformers.js pipelines. */
const EXTENSIONS = [
  { tasks: tasksFor('transcriptions'), module: new URL('./transcription.worker-handler.js', import.meta.url).href },
  { tasks: tasksFor('speech'), module: new URL('./synthesis.worker-handler.js', import.meta.url).href },
];

/** Transcription and synthesis models with `"runtime": "transformers"` run as Transformers.js pipelines in their workers. */
@Injectable()
export class SpeechWorkers {
  constructor(planners: WorkerPlanners, @InjectConfig() config: AppConfig) {
    planners.register(({ manifest, folder }) => {
      const extension = EXTENSIONS.find((e) => e.tasks.includes(manifest.task as never));
      if (manifest.runtime !== 'transformers' || !extension) return undefined;
      if (!folder) throw new Error('a model served by Transformers.js needs a "huggingface" source folder');
      const dtype = typeof manifest.parameters.dtype === 'string' ? manifest.parameters.dtype : 'fp32';
      const pipeline: SpeechPipelineConfig = { task: manifest.task, folder, dtype, cacheDir: config.database.embedded.dataDir };
      return { kind: 'pipeline', pipeline: { module: extension.module, config: pipeline } };
    });
  }
}

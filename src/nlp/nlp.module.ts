import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { EmbeddingsService } from './embeddings.service.js';
import { NlpController } from './nlp.controller.js';
import { TextClassifyService } from './text-classify.service.js';
import { TextModels } from './text-models.service.js';
import { TextWorkers } from './text-workers.js';
import { TeiController, TeiModelController } from './tei.controller.js';
import { TeiService } from './tei.service.js';

@Module({
  imports: [TasksModule, ModelsModule],
  controllers: [NlpController, TeiController, TeiModelController],
  providers: [TextModels, TextWorkers, EmbeddingsService, TextClassifyService, TeiService],
  exports: [EmbeddingsService, TextModels],
})
export class NlpModule {}

import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module.js';
import { EmbeddingsService } from './embeddings.service.js';
import { NlpController } from './nlp.controller.js';
import { TextClassifyService } from './text-classify.service.js';
import { TextModels } from './text-models.service.js';

@Module({
  imports: [TasksModule],
  controllers: [NlpController],
  providers: [TextModels, EmbeddingsService, TextClassifyService],
  exports: [EmbeddingsService, TextModels],
})
export class NlpModule {}

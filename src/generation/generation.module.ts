import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { GenerationWorkers } from './generation-workers.js';
import { GenerationService } from './generation.service.js';
import { OpenAiGenerationController } from './openai.controller.js';
import { TritonGenerateController } from './triton-generate.controller.js';

@Module({
  imports: [TasksModule, ModelsModule],
  controllers: [OpenAiGenerationController, TritonGenerateController],
  providers: [GenerationWorkers, GenerationService],
})
export class GenerationModule {}

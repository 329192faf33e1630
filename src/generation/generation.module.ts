import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { GenerationWorkers } from './generation-workers.js';
import { GenerationService } from './generation.service.js';
import { OpenAiGenerationController } from './openai.controller.js';
import { Seq2SeqController } from './seq2seq.controller.js';
import { Seq2SeqWorkers } from './seq2seq-workers.js';
import { Seq2SeqService } from './seq2seq.service.js';
import { TritonGenerateController } from './triton-generate.controller.js';

@Module({
  imports: [TasksModule, ModelsModule],
  controllers: [OpenAiGenerationController, TritonGenerateController, Seq2SeqController],
  providers: [GenerationWorkers, GenerationService, Seq2SeqWorkers, Seq2SeqService],
})
export class GenerationModule {}

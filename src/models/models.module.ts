import { Module } from '@nestjs/common';
import { RuntimeService } from '../runtime/runtime.service.js';
import { WorkerPlanners } from '../runtime/worker-planners.js';
import { ModelChangeListener } from './model-change-listener.js';
import { ModelRepository } from './model-repository.service.js';
import { ModelsController } from './models.controller.js';

@Module({ controllers: [ModelsController], providers: [RuntimeService, WorkerPlanners, ModelRepository, ModelChangeListener],
  exports: [ModelRepository, WorkerPlanners],
 })
export class ModelsModule {}

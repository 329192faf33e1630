import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { TaskModels } from './task-models.service.js';

@Module({ imports: [ModelsModule], providers: [TaskModels], exports: [TaskModels] })
export class TasksModule {}

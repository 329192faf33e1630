import { Module } from '@nestjs/common';
import { RuntimeService } from '../runtime/runtime.service.js';
import { ModelRepository } from './model-repository.service.js';

@Module({ providers: [RuntimeService, ModelRepository], exports: [ModelRepository] })
export class ModelsModule {}

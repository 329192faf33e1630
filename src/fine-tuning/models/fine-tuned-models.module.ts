import { Module } from '@nestjs/common';
import { FineTuningDb } from '../fine-tuning-db.js';
import { FineTunedModelsRepository } from './fine-tuned-models.repository.js';
import { FineTunedModelsService } from './fine-tuned-models.service.js';

/**
 * The registry of fine-tuned models on its own, needing only the database: the model repository
 * can import it to serve fine-tuned heads without importing the fine-tuning module (which itself
 * imports the model repository).
 */
@Module({
  providers: [FineTuningDb, FineTunedModelsRepository, FineTunedModelsService],
  exports: [FineTuningDb, FineTunedModelsRepository, FineTunedModelsService],
})
export class FineTunedModelsModule {}

import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ModelRepository } from '../../models/model-repository.service.js';
import { FineTunedModelsService } from './fine-tuned-models.service.js';
import { isCheckpointModelName } from './model-names.js';

export interface DeletedModel {
  id: string;
  object: 'model';
  deleted: true;
}

/**
 * OpenAI's model deletion, for fine-tuned models: the row and head artifact go in one transaction
 * whose NOTIFY makes every replica re-index, stop the model's workers and remove its files (its
 * checkpoints stop being served with it). Models of the repository folder are not Lathe's to delete.
 */
@Injectable()
export class ModelDeletionService {
  constructor(
    private readonly repository: ModelRepository,
    private readonly models: FineTunedModelsService,
  ) {}

  async delete(name: string): Promise<DeletedModel> {
    if (isCheckpointModelName(name)) {
      throw new AppError(ErrorCode.ModelNotDeletable, `"${name}" is a checkpoint; delete its fine-tuned model to stop serving it`);
    }
    if (name.startsWith('ft:') && (await this.models.deleteFineTunedModel(name))) {
      // This replica answers as deleted at once; the others on the announcement.
      await this.repository.reindex();
      return { id: name, object: 'model', deleted: true };
    }
    await this.repository.find(name);
    throw new AppError(
      ErrorCode.ModelNotDeletable,
      `model "${name}" comes from the model repository folder; only fine-tuned models (ft:...) can be deleted`,
    );
  }
}

import { Injectable } from '@nestjs/common';
import { type CheckpointModelRow, type FineTunedModelRow, FineTunedModelsRepository } from './fine-tuned-models.repository.js';

export interface FineTunedModel extends FineTunedModelRow {
  /** The head as an ONNX graph: input `features` f32 [batch, inputDim] -> `logits` (and `probabilities`, `prediction` for classifiers). */
  headOnnx: Buffer;
}

/**
 * What the model repository needs to serve fine-tuned models: backbone session + head session.
 * A new model is announced with NOTIFY on MODELS_CHANNEL ('lathe_models'), its name as payload,
 * in the transaction that registers it.
 */
@Injectable()
export class FineTunedModelsService {
  constructor(private readonly models: FineTunedModelsRepository) {}

  /** Every registered model, oldest first, without the head bytes. */
  listFineTunedModels(): Promise<FineTunedModelRow[]> {
    return this.models.list();
  }

  /** One model with its head's ONNX bytes, or undefined. */
  async getFineTunedModel(name: string): Promise<FineTunedModel | undefined> {
    const found = await this.models.findWithHead(name);
    return found && { ...found.row, headOnnx: found.head };
  }

  /** Every kept checkpoint of a registered model, to serve as `<model>:ckpt-step-<step>`. */
  listCheckpoints(): Promise<CheckpointModelRow[]> {
    return this.models.listCheckpoints();
  }

  /** A checkpoint's trainer state bytes, or undefined when it was pruned meanwhile. */
  trainerState(c: CheckpointModelRow): Promise<Buffer | undefined> {
    return this.models.artifactContent(c.stateArtifactId);
  }

  /** Deletes the model (row and head artifact) and tells every replica; false when there was none. */
  deleteFineTunedModel(name: string): Promise<boolean> {
    return this.models.remove(name);
  }
}

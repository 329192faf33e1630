import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModelRepository } from '../../models/model-repository.service.js';
import type { StoredModel } from '../../models/stored-models.js';
import type { FineTunedModelRow } from './fine-tuned-models.repository.js';
import { FineTunedModelsService } from './fine-tuned-models.service.js';

/** Heads are small and batch well: one session worker per replica, batches up to this. */
const HEAD_MAX_BATCH = 64;

/**
 * Puts fine-tuned models in the model repository of every replica: each is its head's ONNX
 * (features in, logits out) with a manifest naming its backbone, so /v1/text/classify runs the
 * backbone's session and then the head's, and /v2 serves the head itself. Replicas hear of new
 * ones through the repository's LISTEN on lathe_models.
 */
@Injectable()
export class FineTunedModelSource implements OnModuleInit {
  constructor(
    private readonly repository: ModelRepository,
    private readonly models: FineTunedModelsService,
  ) {}

  onModuleInit(): void {
    this.repository.addSource({ what: 'fine-tuned models', list: () => this.list() });
  }

  /** Head bytes are read from the database only for a replica that has not written them out yet. */
  private async list(): Promise<StoredModel[]> {
    return (await this.models.listFineTunedModels()).map((row) => ({
      name: row.name,
      version: '1',
      manifest: manifestOf(row),
      digest: row.headSha256,
      files: async () => {
        const model = await this.models.getFineTunedModel(row.name);
        if (!model) throw new Error(`fine-tuned model ${row.name} was deleted`);
        return { 'head.onnx': model.headOnnx };
      },
    }));
  }
}

export function manifestOf(row: FineTunedModelRow): object {
  return {
    task: row.task,
    description: `Fine-tuned ${row.task} head over ${row.backbone} version ${row.backboneVersion}, trained by job ${row.jobId}.`,
    license: 'unknown',
    source: { file: 'head.onnx' },
    inputs: [{ name: 'features', datatype: 'FP32', shape: [row.inputDim] }],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [row.outputDim] }],
    ...(row.labels ? { labels: row.labels } : {}),
    maxBatchSize: HEAD_MAX_BATCH,
    dynamicBatching: { maxQueueDelayMicroseconds: 500 },
    parameters: {
      backbone: row.backbone,
      scores: 'softmax',
      // Lineage: what the model was made from, and the exact head bytes.
      lineage: {
        job: row.jobId,
        backbone_version: row.backboneVersion,
        backbone_sha256: row.backboneSha256,
        dataset_sha256: row.datasetSha256,
        artifact_id: row.headArtifactId,
        artifact_sha256: row.headSha256,
      },
    },
  };
}

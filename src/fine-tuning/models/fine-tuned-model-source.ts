import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModelRepository } from '../../models/model-repository.service.js';
import type { StoredModel } from '../../models/stored-models.js';
import { exportHeadOnnx } from '../../training/export-head.js';
import { splitParams } from '../../training/head-layout.js';
import { deserializeState } from '../../training/state-codec.js';
import { headSpecOf } from '../runner/train-options.js';
import { checkpointModelName } from './model-names.js';
import type { CheckpointModelRow, FineTunedModelRow } from './fine-tuned-models.repository.js';
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
    const heads = (await this.models.listFineTunedModels()).map((row) => ({
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
    return [...heads, ...(await this.models.listCheckpoints()).map((c) => checkpointModel(c, () => this.models.trainerState(c)))];
  }
}

/**
 * A checkpoint served as a model (OpenAI's `fine_tuned_model_checkpoint` names it): the head with
 * the weights the trainer state held at that step, exported when a replica first writes it out.
 */
function checkpointModel(c: CheckpointModelRow, read: () => Promise<Buffer | undefined>): StoredModel {
  const name = checkpointModelName(c.model.name, c.step);
  const head = headSpecOf(c.hyperparameters, c.model.inputDim, c.model.outputDim);
  const base = manifestOf(c.model) as { description: string; parameters: { lineage: object } };
  return {
    name,
    version: '1',
    manifest: {
      ...base,
      description: `Checkpoint at step ${c.step} of ${c.model.name}.`,
      parameters: { ...base.parameters, lineage: { ...base.parameters.lineage, checkpoint_step: c.step, checkpoint_sha256: c.stateSha256 } },
    },
    digest: c.stateSha256,
    files: async () => {
      const state = await read();
      if (!state) throw new Error(`the trainer state of ${name} was deleted`);
      const weights = splitParams(head, deserializeState(state).params);
      const labels = c.model.labels ?? undefined;
      const onnx = exportHeadOnnx(head, weights, {
        output: labels ? 'prediction' : 'logits',
        labels,
        metadata: { 'lathe.model': name, 'lathe.job': c.model.jobId, 'lathe.backbone': c.model.backbone, 'lathe.backbone_sha256': c.model.backboneSha256 },
      });
      return { 'head.onnx': onnx };
    },
  };
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

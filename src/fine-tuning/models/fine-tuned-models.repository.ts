import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { readWhole } from '../stored-content.js';
import { MODELS_CHANNEL } from '../../models/model-change-listener.js';
import type { HeadTask } from '../../contracts/task-table.js';
import type { ResolvedHyperparameters } from '../jobs/hyperparameters.js';

export type FineTunedTask = HeadTask;

export interface FineTunedModelRow {
  /** `ft:<backbone>:<suffix>:<job id>`. */
  name: string;
  jobId: string;
  backbone: string;
  backboneVersion: string;
  /** sha256 of the backbone's ONNX file the features came from. */
  backboneSha256: string;
  datasetSha256: string;
  headArtifactId: string;
  headSha256: string;
  task: FineTunedTask;
  /** Class names by output index; null for regression. */
  labels: string[] | null;
  inputDim: number;
  outputDim: number;
  metrics: Record<string, unknown>;
  createdAt: Date;
}


/** A checkpoint of a job whose model is registered: it is served as the model `<name>:ckpt-step-<step>`. */
export interface CheckpointModelRow {
  model: FineTunedModelRow;
  step: number;
  /** The trainer state the checkpoint's weights are read from. */
  stateArtifactId: string;
  stateSha256: string;
  /** The job's resolved hyperparameters: the head's shape (kind, hidden, activation). */
  hyperparameters: Pick<ResolvedHyperparameters, 'head' | 'hidden' | 'activation'>;
}

const COLUMNS = `m."name", m."job_id" AS "jobId", m."backbone", m."backbone_version" AS "backboneVersion", m."backbone_sha256" AS "backboneSha256",
  m."dataset_sha256" AS "datasetSha256", m."head_artifact_id" AS "headArtifactId", m."head_sha256" AS "headSha256", m."task", m."labels",
  m."input_dim" AS "inputDim", m."output_dim" AS "outputDim", m."metrics", m."created_at" AS "createdAt"`;

@Injectable()
export class FineTunedModelsRepository {
  private readonly sliceBytes: number;

  constructor(
    private readonly db: FineTuningDb,
    @InjectConfig() config: AppConfig,
  ) {
    this.sliceBytes = config.storage.sliceBytes;
  }

  /** Registers the model and tells every replica, in the caller's transaction: both land or neither. */
  async register(row: Omit<FineTunedModelRow, 'createdAt'>, sql: Sql): Promise<void> {
    await sql.rows(
      `INSERT INTO "fine_tuned_models" ("name", "job_id", "backbone", "backbone_version", "backbone_sha256", "dataset_sha256", "head_artifact_id",
         "head_sha256", "task", "labels", "input_dim", "output_dim", "metrics")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [row.name, row.jobId, row.backbone, row.backboneVersion, row.backboneSha256, row.datasetSha256, row.headArtifactId, row.headSha256, row.task,
        row.labels ? JSON.stringify(row.labels) : null, row.inputDim, row.outputDim, JSON.stringify(row.metrics)],
    );
    await sql.rows(`SELECT pg_notify('${MODELS_CHANNEL}', $1)`, [row.name]);
  }

  list(): Promise<FineTunedModelRow[]> {
    return this.db.rows<FineTunedModelRow>(`SELECT ${COLUMNS} FROM "fine_tuned_models" m ORDER BY m."created_at", m."name"`);
  }

  /** The row and its head's ONNX bytes, read in slices like every stored value (see stored-content.ts). */
  async findWithHead(name: string): Promise<{ row: FineTunedModelRow; head: Buffer } | undefined> {
    const [row] = await this.db.rows<FineTunedModelRow>(`SELECT ${COLUMNS} FROM "fine_tuned_models" m WHERE m."name" = $1`, [name]);
    const head = row && (await this.artifactContent(row.headArtifactId));
    return head && { row, head };
  }

  /** Every kept checkpoint of every registered model's job, oldest model first, by step. */
  async listCheckpoints(): Promise<CheckpointModelRow[]> {
    const rows = await this.db.rows<FineTunedModelRow & Omit<CheckpointModelRow, 'model'>>(
      `SELECT ${COLUMNS}, c."step_number" AS "step", c."artifact_id" AS "stateArtifactId", a."sha256" AS "stateSha256", j."hyperparameters"
       FROM "fine_tuning_checkpoints" c JOIN "fine_tuned_models" m ON m."job_id" = c."job_id"
       JOIN "artifacts" a ON a."id" = c."artifact_id" JOIN "fine_tuning_jobs" j ON j."id" = c."job_id"
       ORDER BY m."created_at", m."name", c."step_number"`,
    );
    return rows.map(({ step, stateArtifactId, stateSha256, hyperparameters, ...model }) => ({ model, step, stateArtifactId, stateSha256, hyperparameters }));
  }

  /** An artifact's bytes, read in slices; undefined when it is gone. */
  async artifactContent(id: string): Promise<Buffer | undefined> {
    const [found] = await this.db.rows<{ bytes: number }>(`SELECT "bytes" FROM "artifacts" WHERE "id" = $1`, [id]);
    if (!found) return undefined;
    const slice = async (offset: number, length: number) => {
      const [r] = await this.db.rows<{ slice: Buffer }>(`SELECT substring("content" FROM $2 FOR $3) AS "slice" FROM "artifacts" WHERE "id" = $1`, [id, offset + 1, length]);
      return r?.slice;
    };
    return readWhole(slice, found.bytes, this.sliceBytes);
  }

  /**
   * Deletes the model's row and its head artifact (the job keeps its history, without the head)
   * and tells every replica, in one transaction. False when there was no such model.
   */
  remove(name: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.rows<{ headArtifactId: string }>(
        `DELETE FROM "fine_tuned_models" WHERE "name" = $1 RETURNING "head_artifact_id" AS "headArtifactId"`,
        [name],
      );
      if (!row) return false;
      await tx.rows(`UPDATE "fine_tuning_jobs" SET "head_artifact_id" = NULL, "updated_at" = now() WHERE "head_artifact_id" = $1`, [row.headArtifactId]);
      await tx.rows(`DELETE FROM "artifacts" WHERE "id" = $1`, [row.headArtifactId]);
      await tx.rows(`SELECT pg_notify('${MODELS_CHANNEL}', $1)`, [name]);
      return true;
    });
  }
}

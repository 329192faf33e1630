import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { readWhole } from '../stored-content.js';
import { MODELS_CHANNEL } from '../../models/model-change-listener.js';
import type { HeadTask } from '../../contracts/task-table.js';

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
    const [found] = await this.db.rows<FineTunedModelRow & { headBytes: number }>(
      `SELECT ${COLUMNS}, a."bytes" AS "headBytes" FROM "fine_tuned_models" m JOIN "artifacts" a ON a."id" = m."head_artifact_id" WHERE m."name" = $1`,
      [name],
    );
    if (!found) return undefined;
    const { headBytes, ...row } = found;
    const slice = async (offset: number, length: number) => {
      const [r] = await this.db.rows<{ slice: Buffer }>(`SELECT substring("content" FROM $2 FOR $3) AS "slice" FROM "artifacts" WHERE "id" = $1`, [row.headArtifactId, offset + 1, length]);
      return r?.slice;
    };
    const head = await readWhole(slice, headBytes, this.sliceBytes);
    return head && { row, head };
  }
}

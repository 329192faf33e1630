import { Injectable } from '@nestjs/common';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';

/** One training step, as stored and as GET .../metrics returns it. */
export interface StepRecord {
  step: number;
  epoch: number;
  train_loss: number;
  learning_rate: number;
  batch_size: number;
}

/** One finished epoch. */
export interface EpochRecord {
  epoch: number;
  step: number;
  train_loss: number;
  train_accuracy?: number;
  valid_loss?: number;
  valid_accuracy?: number;
  valid_mse?: number;
  improved: boolean;
  seconds: number;
}

export interface CheckpointRow {
  id: string;
  jobId: string;
  stepNumber: number;
  epoch: number;
  metrics: Record<string, number>;
  artifactId: string;
  createdAt: Date;
}

/** Step rows per INSERT (under 200 kB of JSON). */
export const STEPS_PER_STATEMENT = 2_000;

const CHECKPOINT_COLUMNS = `"id", "job_id" AS "jobId", "step_number" AS "stepNumber", "epoch", "metrics", "artifact_id" AS "artifactId", "created_at" AS "createdAt"`;

/** Per-step and per-epoch history and checkpoints. A resumed run rewrites the steps it repeats. */
@Injectable()
export class JobMetricsRepository {
  constructor(private readonly db: FineTuningDb) {}

  /**
   * Upserts `steps`, STEPS_PER_STATEMENT to a statement: a backlog (the steps a run trained while
   * the database was away) is written in statements that each stay well inside the query timeout.
   */
  async saveSteps(jobId: string, steps: readonly StepRecord[], sql: Sql = this.db): Promise<void> {
    for (let at = 0; at < steps.length; at += STEPS_PER_STATEMENT) {
      await sql.rows(
        `INSERT INTO "fine_tuning_metrics" ("job_id", "kind", "number", "data")
         SELECT $1, 'step', (s->>'step')::int, s FROM jsonb_array_elements($2::jsonb) AS s
         ON CONFLICT ("job_id", "kind", "number") DO UPDATE SET "data" = EXCLUDED."data", "created_at" = now()`,
        [jobId, JSON.stringify(steps.slice(at, at + STEPS_PER_STATEMENT))],
      );
    }
  }

  async saveEpoch(jobId: string, epoch: EpochRecord, sql: Sql = this.db): Promise<void> {
    await sql.rows(
      `INSERT INTO "fine_tuning_metrics" ("job_id", "kind", "number", "data") VALUES ($1, 'epoch', $2, $3)
       ON CONFLICT ("job_id", "kind", "number") DO UPDATE SET "data" = EXCLUDED."data", "created_at" = now()`,
      [jobId, epoch.epoch, JSON.stringify(epoch)],
    );
  }

  async history(jobId: string): Promise<{ steps: StepRecord[]; epochs: EpochRecord[] }> {
    const rows = await this.db.rows<{ kind: 'step' | 'epoch'; data: StepRecord & EpochRecord }>(
      `SELECT "kind", "data" FROM "fine_tuning_metrics" WHERE "job_id" = $1 ORDER BY "kind", "number"`,
      [jobId],
    );
    return {
      steps: rows.filter((r) => r.kind === 'step').map((r) => r.data),
      epochs: rows.filter((r) => r.kind === 'epoch').map((r) => r.data),
    };
  }

  /** Steps after `step` are dropped when a run resumes from an earlier checkpoint. */
  async dropStepsAfter(jobId: string, step: number, epoch: number, sql: Sql = this.db): Promise<void> {
    await sql.rows(
      `DELETE FROM "fine_tuning_metrics" WHERE "job_id" = $1 AND (("kind" = 'step' AND "number" > $2) OR ("kind" = 'epoch' AND "number" > $3))`,
      [jobId, step, epoch],
    );
  }

  async checkpointExists(id: string, sql: Sql): Promise<boolean> {
    return (await sql.rows('SELECT 1 FROM "fine_tuning_checkpoints" WHERE "id" = $1', [id])).length === 1;
  }

  async addCheckpoint(row: Omit<CheckpointRow, 'createdAt'>, sql: Sql): Promise<void> {
    await sql.rows(
      `INSERT INTO "fine_tuning_checkpoints" ("id", "job_id", "step_number", "epoch", "metrics", "artifact_id") VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT ("job_id", "step_number") DO UPDATE SET "metrics" = EXCLUDED."metrics", "artifact_id" = EXCLUDED."artifact_id", "created_at" = now()`,
      [row.id, row.jobId, row.stepNumber, row.epoch, JSON.stringify(row.metrics), row.artifactId],
    );
  }

  /**
   * Deletes checkpoint rows outside each job's retained set: its newest `keepLast` (null: all) and,
   * with `keepBest`, its one with the lowest valid_loss (the earliest of equals). One job, or every
   * job when `jobId` is null. Their artifacts are the artifacts repository's to delete, in the same
   * transaction.
   */
  async pruneCheckpoints(jobId: string | null, keepLast: number | null, keepBest: boolean, sql: Sql): Promise<void> {
    if (keepLast === null) return;
    await sql.rows(
      `DELETE FROM "fine_tuning_checkpoints" c USING (
         SELECT "id", "metrics" ? 'valid_loss' AS "validated",
           row_number() OVER (PARTITION BY "job_id" ORDER BY "step_number" DESC) AS "recency",
           row_number() OVER (PARTITION BY "job_id" ORDER BY ("metrics"->>'valid_loss')::float8 ASC NULLS LAST, "step_number" ASC) AS "rank"
         FROM "fine_tuning_checkpoints" WHERE $1::text IS NULL OR "job_id" = $1) r
       WHERE c."id" = r."id" AND r."recency" > $2 AND NOT ($3 AND r."validated" AND r."rank" = 1)`,
      [jobId, keepLast, keepBest],
    );
  }

  /** Newest first, after the checkpoint `after`. */
  checkpoints(jobId: string, after: string | undefined, limit: number): Promise<CheckpointRow[]> {
    return this.db.rows<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM "fine_tuning_checkpoints"
       WHERE "job_id" = $1 AND ($2::text IS NULL OR "step_number" < (SELECT "step_number" FROM "fine_tuning_checkpoints" WHERE "id" = $2))
       ORDER BY "step_number" DESC LIMIT $3`,
      [jobId, after ?? null, limit],
    );
  }

  async latestCheckpoint(jobId: string): Promise<CheckpointRow | undefined> {
    const [row] = await this.checkpoints(jobId, undefined, 1);
    return row;
  }
}

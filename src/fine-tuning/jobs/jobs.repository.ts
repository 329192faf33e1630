import { Injectable } from '@nestjs/common';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import type { DatasetTask } from '../files/dataset-parser.js';
import type { ResolvedHyperparameters } from './hyperparameters.js';
import { type JobStatus, sourcesOf } from './job-state.js';

export interface JobError {
  code: string;
  message: string;
  param: string | null;
}

export interface FinalMetrics {
  train_loss: number;
  train_accuracy?: number;
  valid_loss?: number;
  valid_accuracy?: number;
  valid_mse?: number;
  /** The epoch whose weights were kept (the lowest validation loss). */
  best_epoch: number;
  epochs: number;
  steps: number;
  stopped: string;
}

export interface JobRow {
  id: string;
  model: string;
  modelVersion: string;
  suffix: string | null;
  seed: number;
  trainingFile: string;
  validationFile: string | null;
  hyperparameters: ResolvedHyperparameters;
  metadata: Record<string, string> | null;
  task: DatasetTask;
  status: JobStatus;
  error: JobError | null;
  fineTunedModel: string | null;
  resultFiles: string[];
  trainedTokens: number | null;
  headArtifactId: string | null;
  finalMetrics: FinalMetrics | null;
  queueJobId: string | null;
  leaseToken: string | null;
  attempts: number;
  runningSince: Date | null;
  heartbeatAt: Date | null;
  estimatedFinish: Date | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export type NewJob = Pick<
  JobRow,
  'id' | 'model' | 'modelVersion' | 'suffix' | 'seed' | 'trainingFile' | 'validationFile' | 'hyperparameters' | 'metadata' | 'task'
>;

const COLUMNS = `"id", "model", "model_version" AS "modelVersion", "suffix", "seed"::float8 AS "seed", "training_file" AS "trainingFile",
  "validation_file" AS "validationFile", "hyperparameters", "metadata", "task", "status", "error", "fine_tuned_model" AS "fineTunedModel",
  "result_files" AS "resultFiles", "trained_tokens"::float8 AS "trainedTokens", "head_artifact_id" AS "headArtifactId",
  "final_metrics" AS "finalMetrics", "queue_job_id" AS "queueJobId", "lease_token" AS "leaseToken", "attempts",
  "running_since" AS "runningSince", "heartbeat_at" AS "heartbeatAt", "estimated_finish" AS "estimatedFinish",
  "created_at" AS "createdAt", "finished_at" AS "finishedAt"`;

/** Advisory-lock namespace of job leases (the second key is hashtext(job id)). */
export const LEASE_LOCK_NAMESPACE = 0x4c415448; // "LATH"

const list = (statuses: readonly JobStatus[]) => statuses.map((s) => `'${s}'`).join(', ');

@Injectable()
export class JobsRepository {
  constructor(private readonly db: FineTuningDb) {}

  async insert(job: NewJob, status: JobStatus, sql: Sql): Promise<JobRow> {
    const [row] = await sql.rows<JobRow>(
      `INSERT INTO "fine_tuning_jobs" ("id", "model", "model_version", "suffix", "seed", "training_file", "validation_file", "hyperparameters", "metadata", "task", "status")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
      [
        job.id,
        job.model,
        job.modelVersion,
        job.suffix,
        job.seed,
        job.trainingFile,
        job.validationFile,
        JSON.stringify(job.hyperparameters),
        job.metadata ? JSON.stringify(job.metadata) : null,
        job.task,
        status,
      ],
    );
    return row!;
  }

  async setQueueJob(id: string, queueJobId: string, sql: Sql): Promise<void> {
    await sql.rows(`UPDATE "fine_tuning_jobs" SET "queue_job_id" = $2 WHERE "id" = $1`, [id, queueJobId]);
  }

  async find(id: string, sql: Sql = this.db): Promise<JobRow | undefined> {
    const [row] = await sql.rows<JobRow>(`SELECT ${COLUMNS} FROM "fine_tuning_jobs" WHERE "id" = $1`, [id]);
    return row;
  }

  /** Newest first, after the job `after`. */
  list(after: string | undefined, limit: number, metadata?: Record<string, string>): Promise<JobRow[]> {
    return this.db.rows<JobRow>(
      `SELECT ${COLUMNS} FROM "fine_tuning_jobs"
       WHERE ($1::text IS NULL OR "seq" < (SELECT "seq" FROM "fine_tuning_jobs" WHERE "id" = $1))
         AND ($3::jsonb IS NULL OR "metadata" @> $3::jsonb)
       ORDER BY "seq" DESC LIMIT $2`,
      [after ?? null, limit, metadata ? JSON.stringify(metadata) : null],
    );
  }

  /** Moves to cancelled from any state that allows it; undefined when the job is elsewhere. */
  async cancel(id: string, sql: Sql): Promise<JobRow | undefined> {
    const [row] = await sql.rows<JobRow>(
      `UPDATE "fine_tuning_jobs" SET "status" = 'cancelled', "finished_at" = now(), "updated_at" = now(), "estimated_finish" = NULL
       WHERE "id" = $1 AND "status" IN (${list(sourcesOf('cancelled'))}) RETURNING ${COLUMNS}`,
      [id],
    );
    return row;
  }

  /** queued -> running under a new lease; undefined when another replica got there first (or it was cancelled). */
  async claim(id: string, leaseToken: string): Promise<JobRow | undefined> {
    const [row] = await this.db.rows<JobRow>(
      `UPDATE "fine_tuning_jobs" SET "status" = 'running', "lease_token" = $2, "attempts" = "attempts" + 1,
         "running_since" = now(), "heartbeat_at" = now(), "updated_at" = now()
       WHERE "id" = $1 AND "status" = 'queued' RETURNING ${COLUMNS}`,
      [id, leaseToken],
    );
    return row;
  }

  /** Refreshes the lease; false when the job is no longer running under it (cancelled, reclaimed). */
  async heartbeat(id: string, leaseToken: string, estimatedFinish: Date | null): Promise<boolean> {
    const rows = await this.db.rows(
      `UPDATE "fine_tuning_jobs" SET "heartbeat_at" = now(), "estimated_finish" = $3
       WHERE "id" = $1 AND "lease_token" = $2 AND "status" = 'running' RETURNING 1`,
      [id, leaseToken, estimatedFinish],
    );
    return rows.length === 1;
  }

  /** running -> a final state under the lease; false when the lease is gone (the job was cancelled). */
  async finish(
    id: string,
    leaseToken: string,
    status: 'succeeded' | 'failed',
    fields: {
      error?: JobError;
      fineTunedModel?: string;
      resultFiles?: string[];
      trainedTokens?: number;
      headArtifactId?: string;
      finalMetrics?: FinalMetrics;
    },
    sql: Sql = this.db,
  ): Promise<boolean> {
    const rows = await sql.rows(
      `UPDATE "fine_tuning_jobs" SET "status" = $3, "error" = $4, "fine_tuned_model" = $5, "result_files" = $6, "trained_tokens" = $7,
         "head_artifact_id" = $8, "final_metrics" = $9, "finished_at" = now(), "updated_at" = now(), "estimated_finish" = NULL
       WHERE "id" = $1 AND "lease_token" = $2 AND "status" = 'running' RETURNING 1`,
      [
        id,
        leaseToken,
        status,
        fields.error ? JSON.stringify(fields.error) : null,
        fields.fineTunedModel ?? null,
        JSON.stringify(fields.resultFiles ?? []),
        fields.trainedTokens ?? null,
        fields.headArtifactId ?? null,
        fields.finalMetrics ? JSON.stringify(fields.finalMetrics) : null,
      ],
    );
    return rows.length === 1;
  }

  /** In a transaction: locks the job row and says whether the lease is still this runner's. */
  async holdsLease(id: string, leaseToken: string, sql: Sql): Promise<boolean> {
    const rows = await sql.rows(
      `SELECT 1 FROM "fine_tuning_jobs" WHERE "id" = $1 AND "lease_token" = $2 AND "status" = 'running' FOR UPDATE`,
      [id, leaseToken],
    );
    return rows.length === 1;
  }

  /** Fails a job that is not running (queued, validating) with an error. */
  async failWaiting(id: string, error: JobError, sql: Sql = this.db): Promise<boolean> {
    const rows = await sql.rows(
      `UPDATE "fine_tuning_jobs" SET "status" = 'failed', "error" = $2, "finished_at" = now(), "updated_at" = now()
       WHERE "id" = $1 AND "status" IN ('validating_files', 'queued') RETURNING 1`,
      [id, JSON.stringify(error)],
    );
    return rows.length === 1;
  }

  /** running -> queued, giving up the lease `leaseToken` (the caller re-enqueues it in the same transaction). */
  async handBack(id: string, leaseToken: string, sql: Sql): Promise<boolean> {
    const rows = await sql.rows(
      `UPDATE "fine_tuning_jobs" SET "status" = 'queued', "lease_token" = NULL, "running_since" = NULL, "estimated_finish" = NULL, "updated_at" = now()
       WHERE "id" = $1 AND "lease_token" = $2 AND "status" = 'running' RETURNING 1`,
      [id, leaseToken],
    );
    return rows.length === 1;
  }

  /**
   * Running jobs whose runner is gone: nobody holds the job's advisory lock (a dead process's
   * connection releases it at once), or its heartbeat is older than `staleSeconds` (a hung or
   * partitioned runner). Locks them for this transaction so one sweeper acts on each.
   */
  /**
   * Running jobs whose runner is gone: silent for `staleSeconds`, or without its lease lock and
   * silent for `relockSeconds`. The server's own start must be that long ago too: a restart ends
   * every session, and live runners need a heartbeat or two to take their locks again.
   */
  async findAbandoned(
    staleSeconds: number,
    relockSeconds: number,
    sql: Sql,
  ): Promise<Array<Pick<JobRow, 'id' | 'leaseToken' | 'attempts'>>> {
    return sql.rows(
      `SELECT "id", "lease_token" AS "leaseToken", "attempts" FROM "fine_tuning_jobs"
       WHERE "status" = 'running'
         AND ("heartbeat_at" < now() - make_interval(secs => $1)
           OR ("heartbeat_at" < now() - make_interval(secs => $2) AND pg_postmaster_start_time() < now() - make_interval(secs => $2)
             AND pg_try_advisory_xact_lock(${LEASE_LOCK_NAMESPACE}, hashtext("id"))))
       FOR UPDATE SKIP LOCKED`,
      [staleSeconds, relockSeconds],
    );
  }

  /** Queued jobs untouched for a while, whose queue message may have been lost with a dead replica. */
  findQueuedBefore(seconds: number): Promise<Array<Pick<JobRow, 'id' | 'queueJobId'>>> {
    return this.db.rows(
      `SELECT "id", "queue_job_id" AS "queueJobId" FROM "fine_tuning_jobs" WHERE "status" = 'queued' AND "updated_at" < now() - make_interval(secs => $1)`,
      [seconds],
    );
  }

  /** Points a still-queued job at a new queue message; false when it moved on meanwhile. */
  async replaceQueueJob(id: string, previous: string | null, next: string, sql: Sql): Promise<boolean> {
    const rows = await sql.rows(
      `UPDATE "fine_tuning_jobs" SET "queue_job_id" = $3, "updated_at" = now()
       WHERE "id" = $1 AND "status" = 'queued' AND "queue_job_id" IS NOT DISTINCT FROM $2 RETURNING 1`,
      [id, previous, next],
    );
    return rows.length === 1;
  }

  /** Takes the job's lease lock on a held connection: true when no other session holds it. */
  async lockLease(id: string, sql: Sql): Promise<boolean> {
    const [row] = await sql.rows<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${LEASE_LOCK_NAMESPACE}, hashtext($1)) AS "locked"`, [
      id,
    ]);
    return row!.locked;
  }

  async unlockLease(id: string, sql: Sql): Promise<void> {
    await sql.rows(`SELECT pg_advisory_unlock(${LEASE_LOCK_NAMESPACE}, hashtext($1))`, [id]);
  }
}

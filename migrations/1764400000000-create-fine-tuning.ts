import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fine-tuning: uploaded datasets, jobs with their events, metrics and checkpoints, the artifact
 * store (bytes and sha256 in one row, so an artifact never exists without its bytes), the
 * backbone feature cache and the registry of fine-tuned models that every replica serves.
 * Jobs name their files without a foreign key: as with OpenAI, a file may be deleted once no
 * active job needs it, and finished jobs keep naming it. The job queue itself is pg-boss, in its
 * own schema, created by pg-boss at boot.
 */
export class CreateFineTuning1764400000000 implements MigrationInterface {
  name = 'CreateFineTuning1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_files" (
        "id" text PRIMARY KEY,
        "seq" bigserial NOT NULL UNIQUE,
        "filename" text NOT NULL,
        "purpose" text NOT NULL CHECK ("purpose" IN ('fine-tune', 'fine-tune-results')),
        "bytes" integer NOT NULL CHECK ("bytes" >= 0),
        "sha256" text NOT NULL,
        "line_count" integer NOT NULL CHECK ("line_count" >= 0),
        "content" bytea NOT NULL,
        "validation" jsonb,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE "artifacts" (
        "id" text PRIMARY KEY,
        "kind" text NOT NULL CHECK ("kind" IN ('checkpoint', 'head')),
        "media_type" text NOT NULL,
        "bytes" integer NOT NULL CHECK ("bytes" = octet_length("content")),
        "sha256" text NOT NULL,
        "content" bytea NOT NULL,
        "job_id" text,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_jobs" (
        "id" text PRIMARY KEY,
        "seq" bigserial NOT NULL UNIQUE,
        "model" text NOT NULL,
        "model_version" text NOT NULL,
        "suffix" text,
        "seed" bigint NOT NULL,
        "training_file" text NOT NULL,
        "validation_file" text,
        "hyperparameters" jsonb NOT NULL,
        "metadata" jsonb,
        "task" text NOT NULL CHECK ("task" IN ('classification', 'regression')),
        "status" text NOT NULL CHECK ("status" IN ('validating_files', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
        "error" jsonb,
        "fine_tuned_model" text,
        "result_files" jsonb NOT NULL DEFAULT '[]',
        "trained_tokens" bigint,
        "head_artifact_id" text REFERENCES "artifacts" ("id"),
        "final_metrics" jsonb,
        "queue_job_id" text,
        "lease_token" uuid,
        "attempts" integer NOT NULL DEFAULT 0,
        "running_since" timestamptz,
        "heartbeat_at" timestamptz,
        "estimated_finish" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        "finished_at" timestamptz
      )`);
    await queryRunner.query(
      `CREATE INDEX "fine_tuning_jobs_status_idx" ON "fine_tuning_jobs" ("status") WHERE "status" IN ('validating_files', 'queued', 'running')`,
    );
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_events" (
        "seq" bigserial PRIMARY KEY,
        "id" text NOT NULL UNIQUE,
        "job_id" text NOT NULL REFERENCES "fine_tuning_jobs" ("id") ON DELETE CASCADE,
        "level" text NOT NULL CHECK ("level" IN ('info', 'warn', 'error')),
        "type" text NOT NULL CHECK ("type" IN ('message', 'metrics')),
        "message" text NOT NULL,
        "data" jsonb,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX "fine_tuning_events_job_idx" ON "fine_tuning_events" ("job_id", "seq")`);
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_metrics" (
        "job_id" text NOT NULL REFERENCES "fine_tuning_jobs" ("id") ON DELETE CASCADE,
        "kind" text NOT NULL CHECK ("kind" IN ('step', 'epoch')),
        "number" integer NOT NULL,
        "data" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("job_id", "kind", "number")
      )`);
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_checkpoints" (
        "id" text PRIMARY KEY,
        "seq" bigserial NOT NULL UNIQUE,
        "job_id" text NOT NULL REFERENCES "fine_tuning_jobs" ("id") ON DELETE CASCADE,
        "step_number" integer NOT NULL,
        "epoch" integer NOT NULL,
        "metrics" jsonb NOT NULL,
        "artifact_id" text NOT NULL REFERENCES "artifacts" ("id"),
        "created_at" timestamptz NOT NULL DEFAULT now(),
        UNIQUE ("job_id", "step_number")
      )`);
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_features" (
        "dataset_sha256" text NOT NULL,
        "backbone_sha256" text NOT NULL,
        "rows" integer NOT NULL,
        "dim" integer NOT NULL,
        "tokens" bigint NOT NULL,
        "features" bytea NOT NULL CHECK (octet_length("features") = "rows" * "dim" * 4),
        "created_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("dataset_sha256", "backbone_sha256")
      )`);
    await queryRunner.query(`
      CREATE TABLE "fine_tuned_models" (
        "name" text PRIMARY KEY,
        "job_id" text NOT NULL UNIQUE REFERENCES "fine_tuning_jobs" ("id"),
        "backbone" text NOT NULL,
        "backbone_version" text NOT NULL,
        "backbone_sha256" text NOT NULL,
        "dataset_sha256" text NOT NULL,
        "head_artifact_id" text NOT NULL REFERENCES "artifacts" ("id"),
        "head_sha256" text NOT NULL,
        "task" text NOT NULL CHECK ("task" IN ('text-classification', 'image-classification', 'audio-classification', 'text-regression', 'image-regression', 'audio-regression')),
        "labels" jsonb,
        "input_dim" integer NOT NULL,
        "output_dim" integer NOT NULL,
        "metrics" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'fine_tuned_models',
      'fine_tuning_features',
      'fine_tuning_checkpoints',
      'fine_tuning_metrics',
      'fine_tuning_events',
      'fine_tuning_jobs',
      'artifacts',
      'fine_tuning_files',
    ]) {
      await queryRunner.query(`DROP TABLE "${table}"`);
    }
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Artifacts and files are read in slices (`substring(content FROM .. FOR ..)`), never whole. With
 * the default EXTENDED storage a slice of a compressed value decompresses everything before it, so
 * reading a value slice by slice costs quadratic time; EXTERNAL keeps values uncompressed out of
 * line, and a slice fetches only the TOAST chunks it covers. Trainer states and ONNX weights are
 * floats that hardly compress anyway. Values already stored keep their old form until rewritten.
 * The indexes serve checkpoint retention, which deletes a job's checkpoint artifacts that no
 * checkpoint row names any more.
 */
export class StoredContentSlices1764812000000 implements MigrationInterface {
  name = 'StoredContentSlices1764812000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "artifacts" ALTER COLUMN "content" SET STORAGE EXTERNAL`);
    await queryRunner.query(`ALTER TABLE "fine_tuning_files" ALTER COLUMN "content" SET STORAGE EXTERNAL`);
    await queryRunner.query(`CREATE INDEX "artifacts_checkpoint_job_idx" ON "artifacts" ("job_id") WHERE "kind" = 'checkpoint'`);
    await queryRunner.query(`CREATE INDEX "fine_tuning_checkpoints_artifact_idx" ON "fine_tuning_checkpoints" ("artifact_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "fine_tuning_checkpoints_artifact_idx"`);
    await queryRunner.query(`DROP INDEX "artifacts_checkpoint_job_idx"`);
    await queryRunner.query(`ALTER TABLE "artifacts" ALTER COLUMN "content" SET STORAGE EXTENDED`);
    await queryRunner.query(`ALTER TABLE "fine_tuning_files" ALTER COLUMN "content" SET STORAGE EXTENDED`);
  }
}

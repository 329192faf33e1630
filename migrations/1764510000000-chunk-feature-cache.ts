import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Bytes per chunk when existing cache entries are split (the app writes LATHE_FEATURES_CHUNK_BYTES). */
const CHUNK = 8 * 1024 * 1024;

/**
 * The backbone feature cache in chunks: pg-protocol reads a bytea as one hex string, and a value
 * over 512 MB (a million rows of 100-dim features is 400 MB, 800 MB as hex) cannot be read at all
 * (ERR_STRING_TOO_LONG ends the process). An entry is now a header row (shape, chunk count) plus
 * chunks of a few MB, written and read one at a time. Existing entries are split in SQL, where no
 * value crosses the protocol.
 */
export class ChunkFeatureCache1764510000000 implements MigrationInterface {
  name = 'ChunkFeatureCache1764510000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "fine_tuning_feature_chunks" (
        "dataset_sha256" text NOT NULL,
        "backbone_sha256" text NOT NULL,
        "chunk" integer NOT NULL CHECK ("chunk" >= 0),
        "data" bytea NOT NULL,
        PRIMARY KEY ("dataset_sha256", "backbone_sha256", "chunk"),
        FOREIGN KEY ("dataset_sha256", "backbone_sha256") REFERENCES "fine_tuning_features" ("dataset_sha256", "backbone_sha256") ON DELETE CASCADE
      )`);
    await queryRunner.query(`ALTER TABLE "fine_tuning_features" ADD COLUMN "chunks" integer NOT NULL DEFAULT 0`);
    await queryRunner.query(`
      INSERT INTO "fine_tuning_feature_chunks" ("dataset_sha256", "backbone_sha256", "chunk", "data")
      SELECT f."dataset_sha256", f."backbone_sha256", i, substring(f."features" FROM i * ${CHUNK} + 1 FOR ${CHUNK})
      FROM "fine_tuning_features" f, generate_series(0, (octet_length(f."features") - 1) / ${CHUNK}) AS i
      WHERE octet_length(f."features") > 0`);
    await queryRunner.query(`UPDATE "fine_tuning_features" SET "chunks" = (octet_length("features") + ${CHUNK} - 1) / ${CHUNK}`);
    await queryRunner.query(`ALTER TABLE "fine_tuning_features" DROP COLUMN "features"`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // A cache: entries are dropped rather than joined back into values that may be too large to read.
    await queryRunner.query(`DROP TABLE "fine_tuning_feature_chunks"`);
    await queryRunner.query(`DELETE FROM "fine_tuning_features"`);
    await queryRunner.query(`ALTER TABLE "fine_tuning_features" DROP COLUMN "chunks"`);
    await queryRunner.query(
      `ALTER TABLE "fine_tuning_features" ADD COLUMN "features" bytea NOT NULL CHECK (octet_length("features") = "rows" * "dim" * 4)`,
    );
  }
}

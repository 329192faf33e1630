import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Replicas that share this database, with a heartbeat, so operators can see what is serving. */
export class CreateInstances1764300000000 implements MigrationInterface {
  name = 'CreateInstances1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "instances" (
        "id" uuid PRIMARY KEY,
        "hostname" text NOT NULL,
        "pid" integer NOT NULL,
        "version" text NOT NULL,
        "state" text NOT NULL CHECK ("state" IN ('running', 'draining', 'stopped')),
        "started_at" timestamptz NOT NULL DEFAULT now(),
        "last_seen_at" timestamptz NOT NULL DEFAULT now(),
        "stopped_at" timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX "instances_last_seen_at_idx" ON "instances" ("last_seen_at" DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "instances"`);
  }
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS } from '../../migrations/index.js';
import { createDataSource } from '../../src/database/data-source.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/database.js';

const tables = async (url: string) =>
  (await adminQuery(url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)).rows.map((r) => r.tablename);

describe('migrations', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  it('run all up on an empty database, all down again cleanly, and up again', async () => {
    const dataSource = createDataSource(db.url);
    await dataSource.initialize();
    try {
      assert.deepEqual(await tables(db.url), []);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      assert.deepEqual(
        applied.map((m) => m.name),
        MIGRATIONS.map((m) => m.name),
      );
      assert.deepEqual(await tables(db.url), [
        'artifacts',
        'fine_tuned_models',
        'fine_tuning_checkpoints',
        'fine_tuning_events',
        'fine_tuning_feature_chunks',
        'fine_tuning_features',
        'fine_tuning_files',
        'fine_tuning_jobs',
        'fine_tuning_metrics',
        'instances',
        'migrations',
      ]);
      assert.equal(await dataSource.showMigrations(), false, 'nothing pending');
      // Stored bytes are read in slices: uncompressed out-of-line storage lets a slice fetch only its own TOAST chunks.
      const storage = await adminQuery(
        db.url,
        `SELECT attrelid::regclass::text AS "table", attstorage FROM pg_attribute WHERE attname = 'content' AND attrelid IN ('artifacts'::regclass, 'fine_tuning_files'::regclass) ORDER BY 1`,
      );
      assert.deepEqual(storage.rows, [
        { table: 'artifacts', attstorage: 'e' },
        { table: 'fine_tuning_files', attstorage: 'e' },
      ]);

      for (let i = 0; i < MIGRATIONS.length; i += 1) await dataSource.undoLastMigration({ transaction: 'each' });
      assert.deepEqual(await tables(db.url), ['migrations']);
      assert.deepEqual((await adminQuery(db.url, 'SELECT count(*)::int AS n FROM migrations')).rows, [{ n: 0 }]);
      const indexes = await adminQuery(
        db.url,
        `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migrations'`,
      );
      assert.equal(indexes.rowCount, 0);

      const again = await dataSource.runMigrations({ transaction: 'each' });
      assert.equal(again.length, MIGRATIONS.length);
    } finally {
      await dataSource.destroy();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../../src/common/errors/unavailable.js';
import { createDataSource } from '../../src/database/data-source.js';
import { FineTuningDb } from '../../src/fine-tuning/fine-tuning-db.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/database.js';

/** Broken and stalled connections, on a real server, as the data source sees them. */
describe('database faults on one connection', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  before(async () => {
    db = await createTestDatabase();
    dataSource = createDataSource(db.url, { connectMs: 1_000, acquireMs: 1_000, queryMs: 500 });
    await dataSource.initialize();
  });
  after(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('a transaction whose connection is ended under it fails as unavailable on every later statement', async () => {
    const failures: unknown[] = [];
    await assert.rejects(
      new FineTuningDb(dataSource).transaction(async (tx) => {
        const [{ pid }] = await tx.rows<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await adminQuery(db.url, 'SELECT pg_terminate_backend($1)', [pid]);
        // The first statement meets the closed socket; by the next, TypeORM has let the runner go.
        for (let i = 0; i < 3; i += 1) await tx.rows('SELECT 1').catch((err: unknown) => failures.push(err));
        throw failures[0];
      }),
    );
    assert.equal(failures.length, 3);
    for (const err of failures) assert.equal(isDatabaseUnavailable(err), true, String(err));
    assert.ok(
      failures.some((err) => (err as { code?: string }).code === '08003'),
      'a statement on the released runner is a lost connection (08003)',
    );
  });

  it('a statement longer than the query timeout is cancelled by the server as unavailable; the connection serves on', async () => {
    await assert.rejects(
      dataSource.query('SELECT pg_sleep(3)'),
      (err: unknown) => (err as { code?: string }).code === '57014' && isDatabaseUnavailable(err),
    );
    assert.deepEqual(await dataSource.query('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('a server that does not answer in time is given up on by the client, and that connection is never lent again', async () => {
    const started = Date.now();
    // statement_timeout off on that connection: only the client's own bound can end the statement, as with a frozen server.
    await assert.rejects(dataSource.query('SET statement_timeout = 0; SELECT pg_sleep(3)'), (err: unknown) => isDatabaseUnavailable(err));
    assert.ok(Date.now() - started < 1_500, `${Date.now() - started} ms`);
    // The pool lends the most recently released connection first: the broken one, had it been pooled.
    assert.deepEqual(await dataSource.query('SELECT 1 AS one'), [{ one: 1 }]);
  });
});

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { LatheClient } from '../support/lathe-client.js';
import { assertTrainedOnce } from '../support/postgres-faults.js';
import { freePort, killSpawned, MAIN, makeTempDir, type Spawned, spawnNode, waitFor, waitForStatus } from '../support/processes.js';

const TIMEOUTS = { LATHE_DB_CONNECT_TIMEOUT_MS: '1000', LATHE_DB_ACQUIRE_TIMEOUT_MS: '1500', LATHE_DB_QUERY_TIMEOUT_MS: '1500' };
const DB_ROUTE_BOUND_MS = 1_500 + 1_500 + 1_000;
const RECOVERY_MS = 2_000;
/**
 * Long enough that the job still trains well after the restart, so its next heartbeat finds the
 * lease connection broken, and that it comes back with more unwritten steps than one statement takes.
 */
const EPOCHS = 1000;
const UNAVAILABLE = { code: 'UNAVAILABLE', message: 'The database is not answering; retry later', type: 'server_error', param: null };
const quiet = { log: () => {}, warn: () => {}, debug: () => {}, error: console.error };

/**
 * Lathe on a PostgreSQL server this test owns (DATABASE_URL), which is stopped (fast shutdown:
 * every session is terminated) and started again while a fine-tuning job trains. Runs alone
 * (`.serial`): it measures how fast answers come.
 */
describe('faults: PostgreSQL restarted while serving and training', () => {
  let dir: string;
  let server: EmbeddedPostgres;
  let url: string;
  let lathe: Spawned;
  let client: LatheClient;

  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end();
    }
  };

  before(async () => {
    dir = await makeTempDir('lathe-faults-restart-');
    server = new EmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort(), logger: quiet });
    url = await server.start();
    const port = await freePort();
    client = new LatheClient(`http://127.0.0.1:${port}`);
    lathe = spawnNode(MAIN, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      LATHE_DATA_DIR: join(dir, 'lathe'),
      LOG_LEVEL: 'info',
      LATHE_SHUTDOWN_GRACE_MS: '1000',
      ...TIMEOUTS,
    });
    await waitForStatus(`${client.base}/health/ready`, 200, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${lathe.output()}`);
    });
  });
  after(async () => {
    killSpawned();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 while it is down, serves again within 2 s of its return, and finishes the job once', async (t) => {
    const file = await client.upload();
    assert.equal(file.status, 200, JSON.stringify(file.body));
    const created = await client.createJob((file.body as { id: string }).id, EPOCHS);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const jobId = (created.body as { id: string }).id;
    await waitFor(
      async () => ((await query('SELECT 1 FROM fine_tuning_checkpoints WHERE job_id = $1', [jobId])).length >= 1 ? true : undefined),
      60_000,
      'a first checkpoint',
    );

    await server.stop();
    const down = Date.now();
    while (Date.now() - down < 3_000) {
      for (const answer of [await client.upload(), await client.call('/v1/files')]) {
        assert.equal(answer.status, 503, JSON.stringify(answer.body));
        assert.deepEqual((answer.body as { error: unknown }).error, UNAVAILABLE);
        assert.equal(answer.retryAfter, '2');
        assert.ok(answer.ms < DB_ROUTE_BOUND_MS, `${answer.ms} ms`);
      }
      assert.equal((await client.call('/health/live')).status, 200);
      assert.equal((await client.embed()).status, 200);
      const ready = await client.call('/health/ready');
      assert.equal(ready.status, 503);
      assert.equal((ready.body as { checks: { database: { status: string } } }).checks.database.status, 'down');
    }

    await server.start();
    const back = Date.now();
    await waitFor(
      async () => ((await client.call('/health/ready')).status === 200 ? true : undefined),
      RECOVERY_MS,
      'readiness after the restart',
    );
    await waitFor(
      async () => ((await client.upload()).status === 200 ? true : undefined),
      RECOVERY_MS - (Date.now() - back),
      'an upload after the restart',
    );
    assert.ok(Date.now() - back <= RECOVERY_MS, `recovered in ${Date.now() - back} ms`);
    // Still training: the lease check below is about a run that outlived its lease connection.
    assert.deepEqual(await query('SELECT status FROM fine_tuning_jobs WHERE id = $1', [jobId]), [{ status: 'running' }]);

    // The restart ended the session holding the job's lease lock: the runner takes it again and
    // goes on (the sweeper leaves a freshly restarted server's lock-less jobs alone for a while).
    const done = await client.finished(jobId, 120_000);
    t.diagnostic(`the job finished ${Date.now() - back} ms after the database came back`);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.match(lathe.output(), new RegExp(`"msg":"Job ${jobId}: its lease connection broke; lease lock taken again"`));
    assert.deepEqual(await query('SELECT attempts FROM fine_tuning_jobs WHERE id = $1', [jobId]), [{ attempts: 1 }]);
    const messages = (
      await query<{ message: string }>(`SELECT message FROM fine_tuning_events WHERE job_id = $1 AND type = 'message' ORDER BY seq`, [
        jobId,
      ])
    ).map((e) => e.message);
    assert.deepEqual(messages.filter((m) => !/ features /.test(m)).slice(3), [
      'Fine-tuning job started',
      `New fine-tuned model created: ft:glove-100d::${jobId}`,
      'The job has successfully completed',
    ]);
    await assertTrainedOnce(query, jobId, done.metrics!.steps, EPOCHS);

    assert.equal(lathe.child.exitCode, null, 'Lathe is still running');
    assert.doesNotMatch(lathe.output(), /exiting|"level":60/);
    lathe.child.kill('SIGTERM');
    assert.deepEqual(await lathe.exited, { code: 0, signal: null }, lathe.output().slice(-4000));
  });
});

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LatheClient, type Timed } from '../support/lathe-client.js';
import { dataFrames, parseEventStream } from '../support/fine-tuning.js';
import { assertTrainedOnce, embeddedQuery, freezePostgres } from '../support/postgres-faults.js';
import {
  freePort,
  killSpawned,
  MAIN,
  makeTempDir,
  postgresPidsFor,
  type Spawned,
  spawnNode,
  waitFor,
  waitForStatus,
} from '../support/processes.js';

const FREEZE_MS = 20_000;
/** Recovery bound after the database returns (the acceptance). */
const RECOVERY_MS = 2_000;
const TIMEOUTS = { LATHE_DB_CONNECT_TIMEOUT_MS: '1000', LATHE_DB_ACQUIRE_TIMEOUT_MS: '1500', LATHE_DB_QUERY_TIMEOUT_MS: '1500' };
/** A request that needs the database waits at most for a connection, then for one statement; plus slack for a loaded machine. */
const DB_ROUTE_BOUND_MS = 1_500 + 1_500 + 1_000;
const UNAVAILABLE = { code: 'UNAVAILABLE', message: 'The database is not answering; retry later', type: 'server_error', param: null };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Lathe on its own embedded PostgreSQL, which is SIGSTOPped for 20 s (every process of that one
 * cluster) while a fine-tuning job trains, files are uploaded and a model answers. Runs alone
 * (`.serial`): it measures how fast answers come.
 */
describe('faults: the database frozen for 20 s during training, uploads and inference', () => {
  let dataDir: string;
  let pgPort: number;
  let base: string;
  let lathe: Spawned;

  let client: LatheClient;
  const call = (path: string, init?: RequestInit) => client.call(path, init);
  const upload = () => client.upload();
  const embed = () => client.embed();
  const query = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => embeddedQuery<T>(dataDir, pgPort, sql, params);

  before(async () => {
    dataDir = await makeTempDir('lathe-faults-');
    const port = await freePort();
    pgPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    client = new LatheClient(base);
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      LATHE_DATA_DIR: dataDir,
      LATHE_EMBEDDED_PG_PORT: String(pgPort),
      LOG_LEVEL: 'info',
      LATHE_SHUTDOWN_GRACE_MS: '1000',
      ...TIMEOUTS,
    };
    lathe = spawnNode(MAIN, env);
    await waitForStatus(`${base}/health/ready`, 200, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${lathe.output()}`);
    });
  });
  after(async () => {
    killSpawned();
    for (const pid of await postgresPidsFor(dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves on, answers 503 on database routes within the timeout, recovers within 2 s, and finishes the job exactly once', async () => {
    const file = await upload();
    assert.equal(file.status, 200, JSON.stringify(file.body));
    const created = await client.createJob((file.body as { id: string }).id, 60);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const jobId = (created.body as { id: string }).id;
    await waitFor(
      async () => ((await query('SELECT 1 FROM fine_tuning_checkpoints WHERE job_id = $1', [jobId])).length >= 1 ? true : undefined),
      60_000,
      'a first checkpoint',
    );
    assert.deepEqual(await query('SELECT status FROM fine_tuning_jobs WHERE id = $1', [jobId]), [{ status: 'running' }]);

    // A client following the job's events across the freeze: the stream must neither end nor skip.
    const stream = await fetch(`${base}/v1/fine_tuning/jobs/${jobId}/events?stream=true`);
    assert.equal(stream.status, 200);
    const followed = stream.text();
    // Read at the end; a failure before then ends the server, and this read with it.
    followed.catch(() => undefined);

    const thaw = await freezePostgres(join(dataDir, 'postgres'));
    const frozenAt = Date.now();
    let thawedAt = 0;
    try {
      const until = frozenAt + FREEZE_MS;
      // Inference and liveness need no database: probed all along.
      const probes = (async () => {
        const seen: Timed[] = [];
        while (Date.now() < until - 500) {
          seen.push(await call('/health/live'), await embed());
          await sleep(250);
        }
        return seen;
      })();
      // Database routes, early, midway and late in the freeze.
      const dbRoutes = (async () => {
        const seen: Array<{ route: string; answer: Timed }> = [];
        for (const at of [1_000, 8_000, 14_000]) {
          await sleep(Math.max(0, frozenAt + at - Date.now()));
          seen.push({ route: 'upload', answer: await upload() });
          seen.push({ route: 'list files', answer: await call('/v1/files') });
          seen.push({ route: 'ready', answer: await call('/health/ready') });
        }
        return seen;
      })();
      const [probed, answered] = await Promise.all([probes, dbRoutes]);
      await sleep(Math.max(0, until - Date.now()));

      assert.ok(probed.length >= 20, `${probed.length} probes`);
      for (const p of probed) assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.ok(Math.max(...probed.map((p) => p.ms)) < 1_000, `slowest probe ${Math.max(...probed.map((p) => p.ms))} ms`);
      for (const { route, answer } of answered) {
        assert.ok(answer.ms < DB_ROUTE_BOUND_MS, `${route} took ${answer.ms} ms`);
        if (route === 'ready') {
          const report = answer.body as { status: string; checks: { database: { status: string }; models: { status: string } } };
          assert.equal(answer.status, 503);
          assert.deepEqual([report.status, report.checks.database.status, report.checks.models.status], ['not_ready', 'down', 'up']);
        } else {
          assert.equal(answer.status, 503, `${route}: ${JSON.stringify(answer.body)}`);
          assert.deepEqual((answer.body as { error: unknown }).error, UNAVAILABLE);
          assert.equal(answer.retryAfter, '2');
        }
      }
      assert.equal(lathe.child.exitCode, null, 'Lathe is still running');
    } finally {
      thaw();
      thawedAt = Date.now();
    }

    // Everything answers again within RECOVERY_MS of the database returning.
    await waitFor(async () => ((await call('/health/ready')).status === 200 ? true : undefined), RECOVERY_MS, 'readiness after the thaw');
    await waitFor(
      async () => ((await upload()).status === 200 ? true : undefined),
      RECOVERY_MS - (Date.now() - thawedAt),
      'an upload after the thaw',
    );
    assert.ok(Date.now() - thawedAt <= RECOVERY_MS, `recovered in ${Date.now() - thawedAt} ms`);

    // The job completes, once, with one set of everything.
    const done = await client.finished(jobId, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.deepEqual(await query('SELECT status, attempts FROM fine_tuning_jobs WHERE id = $1', [jobId]), [
      { status: 'succeeded', attempts: 1 },
    ]);
    await assertTrainedOnce(query, jobId, done.metrics!.steps, 60);
    assert.deepEqual(
      (
        await query<{ message: string }>(`SELECT message FROM fine_tuning_events WHERE job_id = $1 AND type = 'message' ORDER BY seq`, [
          jobId,
        ])
      )
        .map((e) => e.message)
        // Whether features were computed or found in the cache depends on the cache, not on this fault.
        .filter((m) => !/ features /.test(m)),
      [
        `Created fine-tuning job: ${jobId}`,
        `Validating training file: ${(file.body as { id: string }).id}`,
        'Files validated (240 examples, 3 classes), moving job to queued state',
        'Fine-tuning job started',
        `New fine-tuned model created: ft:glove-100d::${jobId}`,
        'The job has successfully completed',
      ],
    );
    const text = await followed;
    const frames = dataFrames(text);
    assert.deepEqual(frames.at(-1), { data: '[DONE]' });
    const streamed = frames.slice(0, -1).map((f) => (JSON.parse(f.data) as { message: string }).message);
    const stored = await query<{ message: string }>('SELECT message FROM fine_tuning_events WHERE job_id = $1 ORDER BY seq', [jobId]);
    assert.deepEqual(
      streamed,
      stored.map((e) => e.message),
      'the stream carried every event once, in order',
    );
    assert.deepEqual(
      parseEventStream(text).filter((f) => f.event !== undefined),
      [],
      'no error frame',
    );
    assert.deepEqual(await query(`SELECT state, count(*)::int AS n FROM pgboss.job WHERE name = 'lathe-fine-tuning' GROUP BY state`), [
      { state: 'completed', n: 1 },
    ]);

    // The stall reached the run's writes (retried, not lost) and ended nothing.
    assert.match(lathe.output(), /"msg":"Job [^ ]+: a write \(trying again in \d+ ms\) failed: /);
    assert.doesNotMatch(lathe.output(), /exiting|"level":60/);
    lathe.child.kill('SIGTERM');
    assert.deepEqual(await lathe.exited, { code: 0, signal: null }, lathe.output().slice(-4000));
  });
});

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/database.js';
import { jsonl, topicExamples } from '../support/fine-tuning.js';
import { freePort, killSpawned, MAIN, makeTempDir, type Spawned, spawnNode, waitFor, waitForStatus } from '../support/processes.js';

interface Job {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  fine_tuned_model: string | null;
  metrics: { valid_accuracy?: number; epochs: number; steps: number } | null;
}

/** Real server processes on one database: killed and restarted while a job trains. */
describe('fine-tuning: a replica that dies or stops mid-training', () => {
  let db: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;
  let trainingFile: string;

  const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${base}${path}`, init);
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const start = async (): Promise<Spawned> => {
    const server = spawnNode(MAIN, env);
    await waitForStatus(`${base}/health/ready`, 200, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${server.output()}`);
    });
    return server;
  };
  const upload = async () => {
    const form = new FormData();
    form.append('purpose', 'fine-tune');
    form.append('file', new Blob([jsonl(topicExamples(80))]), 'topics.jsonl');
    trainingFile = (await api<{ id: string }>('/v1/files', { method: 'POST', body: form })).id;
  };
  const createJob = (epochs: number) =>
    api<Job>('/v1/fine_tuning/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'glove-100d',
        training_file: trainingFile,
        seed: 3,
        hyperparameters: { n_epochs: epochs, batch_size: 1 },
      }),
    });
  const checkpointCount = async (id: string) =>
    (await api<{ data: unknown[] }>(`/v1/fine_tuning/jobs/${id}/checkpoints?limit=100`)).data.length;
  const messages = async (id: string) =>
    (await api<{ data: Array<{ message: string }> }>(`/v1/fine_tuning/jobs/${id}/events?limit=1000`)).data.map((e) => e.message).reverse();
  const statusInDb = async (id: string) =>
    (await adminQuery(db.url, 'SELECT status FROM fine_tuning_jobs WHERE id = $1', [id])).rows[0].status as string;
  /** One model, one head, no event twice, and no queue message left that would run the job again. */
  const assertOnceOfEverything = async (id: string) => {
    assert.deepEqual((await adminQuery(db.url, 'SELECT job_id FROM fine_tuned_models WHERE job_id = $1', [id])).rows, [{ job_id: id }]);
    assert.deepEqual(
      (await adminQuery(db.url, `SELECT count(*)::int AS n FROM artifacts WHERE kind = 'head' AND job_id = $1`, [id])).rows,
      [{ n: 1 }],
    );
    // Each run notes how it got its features; everything else is said once.
    const repeated = await adminQuery(
      db.url,
      `SELECT message FROM fine_tuning_events WHERE job_id = $1 AND message NOT LIKE '% features %' GROUP BY message HAVING count(*) > 1`,
      [id],
    );
    assert.deepEqual(repeated.rows, []);
    const states = (
      await adminQuery(db.url, `SELECT state FROM pgboss.job WHERE name = 'lathe-fine-tuning' AND data->>'jobId' = $1`, [id])
    ).rows.map((r) => r.state as string);
    assert.ok(states.includes('completed') && !states.some((s) => s === 'created' || s === 'retry'), states.join(', '));
  };
  const finished = (id: string, timeoutMs: number) =>
    waitFor(
      async () => {
        const job = await api<Job>(`/v1/fine_tuning/jobs/${id}`);
        return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
      },
      timeoutMs,
      `job ${id} to finish`,
    );

  before(async () => {
    db = await createTestDatabase();
    dataDir = await makeTempDir('lathe-ft-restart-');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      LATHE_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      LATHE_SHUTDOWN_GRACE_MS: '1000',
    };
  });
  after(async () => {
    killSpawned();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('SIGKILL: the job is taken over at the next start and resumes from its last checkpoint', async () => {
    const first = await start();
    await upload();
    const job = await createJob(40);
    await waitFor(async () => ((await checkpointCount(job.id)) >= 2 ? true : undefined), 30_000, 'two checkpoints');
    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(await statusInDb(job.id), 'running', 'the job was running when its replica died');

    const second = await start();
    const done = await finished(job.id, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.fine_tuned_model, `ft:glove-100d::${job.id}`);
    assert.equal(done.metrics!.epochs, 40);
    assert.ok(done.metrics!.valid_accuracy! >= 0.85);
    const log = await messages(job.id);
    assert.ok(
      log.includes('The replica running this job stopped; the job is queued again and resumes from its last checkpoint'),
      log.join('\n'),
    );
    assert.ok(log.includes('Fine-tuning job resumed (attempt 2)'), log.join('\n'));
    const resumed = log.find((m) => m.startsWith('Resumed from the checkpoint'));
    assert.match(resumed ?? '', /^Resumed from the checkpoint at step [1-9]\d* \([1-9]\d* epochs? done\)$/);
    // The history has every step and epoch once, the repeated ones rewritten.
    const metrics = await api<{ steps: Array<{ step: number }>; epochs: Array<{ epoch: number }> }>(
      `/v1/fine_tuning/jobs/${job.id}/metrics`,
    );
    assert.deepEqual(
      metrics.steps.map((s) => s.step),
      Array.from({ length: done.metrics!.steps }, (_, i) => i + 1),
    );
    assert.deepEqual(
      metrics.epochs.map((e) => e.epoch),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    const orphans = await adminQuery(
      db.url,
      `SELECT count(*)::int AS n FROM artifacts WHERE content IS NULL OR octet_length(content) <> bytes OR encode(sha256(content), 'hex') <> sha256`,
    );
    assert.equal(orphans.rows[0].n, 0);
    // Retention held across the takeover: the trainer states kept are exactly the checkpoints listed.
    const kept = await api<{ data: Array<{ artifact_id: string }> }>(`/v1/fine_tuning/jobs/${job.id}/checkpoints?limit=100`);
    assert.ok(kept.data.length <= 4, `${kept.data.length} checkpoints kept`);
    const states = await adminQuery(db.url, `SELECT id FROM artifacts WHERE job_id = $1 AND kind = 'checkpoint' ORDER BY id`, [job.id]);
    assert.deepEqual(
      states.rows.map((r) => r.id),
      kept.data.map((c) => c.artifact_id).sort(),
    );
    await assertOnceOfEverything(job.id);
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.output());
  });

  it('SIGTERM: the running job is handed back to the queue and the next start finishes it', async () => {
    const first = await start();
    await upload();
    // Long enough that it is still training when the shutdown reaches it, on a loaded machine too
    // (features are cached by now, and 40 epochs could end during the drain).
    const job = await createJob(150);
    await waitFor(async () => ((await checkpointCount(job.id)) >= 1 ? true : undefined), 30_000, 'a checkpoint');
    first.child.kill('SIGTERM');
    assert.equal((await first.exited).code, 0, first.output());
    assert.equal(await statusInDb(job.id), 'queued');

    const second = await start();
    const done = await finished(job.id, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const log = await messages(job.id);
    assert.ok(
      log.some((m) =>
        /^Training paused at step \d+ \(epoch \d+\): the replica running it is shutting down; the job is queued again and resumes from its last checkpoint$/.test(
          m,
        ),
      ),
      log.join('\n'),
    );
    const metrics = await api<{ steps: Array<{ step: number }> }>(`/v1/fine_tuning/jobs/${job.id}/metrics`);
    assert.deepEqual(
      metrics.steps.map((s) => s.step),
      Array.from({ length: done.metrics!.steps }, (_, i) => i + 1),
    );
    assert.ok(!log.includes('The replica running this job stopped; the job is queued again and resumes from its last checkpoint'));
    await assertOnceOfEverything(job.id);
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.output());
  });
});

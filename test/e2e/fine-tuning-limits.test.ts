import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { datasetHash } from '../../src/fine-tuning/runner/backbone-features.service.js';
import { JobQueue } from '../../src/fine-tuning/queue/job-queue.service.js';
import { LeaseSweeper } from '../../src/fine-tuning/queue/lease-sweeper.service.js';
import { FeaturesRepository } from '../../src/fine-tuning/runner/features.repository.js';
import { JobRunner } from '../../src/fine-tuning/runner/job-runner.service.js';
import { adminQuery } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { eventMessages, type FileBody, getJob, jsonl, topicExamples, uploadFile, waitForStatus } from '../support/fine-tuning.js';
import { waitFor } from '../support/processes.js';

const count = async (t: TestApp, table: string) =>
  (await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

describe('fine-tuning budgets: checked when the job is created', () => {
  let t: TestApp;
  const post = (body: unknown) =>
    request(t.server)
      .post('/v1/fine_tuning/jobs')
      .send(body as object);
  const upload = async (lines: unknown[]) => ((await uploadFile(t.server, jsonl(lines))).body as FileBody).id;

  before(async () => {
    // glove-100d's features are 100 floats (400 bytes) a row.
    t = await startTestApp({
      LATHE_TRAINING_MAX_ROWS: '100',
      LATHE_TRAINING_MAX_CLASSES: '4',
      LATHE_TRAINING_MAX_FEATURE_BYTES: '20000',
      LATHE_TRAINING_MAX_HEAD_PARAMS: '1000',
      LATHE_TRAINING_MAX_STEP_VALUES: '80',
      LATHE_TRAINING_MAX_STEPS: '500',
    });
  });
  after(() => t.close());

  const refused = async (body: unknown, details: Record<string, unknown>, message: string) => {
    const res = await post(body);
    assert.equal(res.status, 413, res.text);
    assert.deepEqual(res.body.error, { code: 'TRAINING_BUDGET_EXCEEDED', message, type: 'invalid_request_error', param: null, details });
  };

  it('rows (training and validation files together): 413 with the count and the limit', async () => {
    await refused(
      { model: 'glove-100d', training_file: await upload(topicExamples(40)) },
      { what: 'rows', value: 120, limit: 100, variable: 'LATHE_TRAINING_MAX_ROWS' },
      "the job would have 120 examples; this server's limit is 100 (LATHE_TRAINING_MAX_ROWS)",
    );
    const training = await upload(topicExamples(17));
    const validation = await upload(topicExamples(17, 2));
    await refused(
      { model: 'glove-100d', training_file: training, validation_file: validation },
      { what: 'rows', value: 102, limit: 100, variable: 'LATHE_TRAINING_MAX_ROWS' },
      "the job would have 102 examples; this server's limit is 100 (LATHE_TRAINING_MAX_ROWS)",
    );
  });

  it('classes: 413', async () => {
    const lines = ['a', 'b', 'c', 'd', 'e'].flatMap((label) => [
      { text: `the ${label} cat`, label },
      { text: `a ${label} dog`, label },
    ]);
    await refused(
      { model: 'glove-100d', training_file: await upload(lines) },
      { what: 'classes', value: 5, limit: 4, variable: 'LATHE_TRAINING_MAX_CLASSES' },
      "the job would have 5 classes; this server's limit is 4 (LATHE_TRAINING_MAX_CLASSES)",
    );
  });

  it('feature bytes (rows × backbone dim × 4): 413', async () => {
    await refused(
      { model: 'glove-100d', training_file: await upload(topicExamples(20)) },
      { what: 'feature_bytes', value: 24000, limit: 20000, variable: 'LATHE_TRAINING_MAX_FEATURE_BYTES' },
      "the job would have 24000 bytes of backbone features; this server's limit is 20000 (LATHE_TRAINING_MAX_FEATURE_BYTES)",
    );
  });

  it("head parameters (the mlp's weights and biases) and values in one step: 413; the linear head's default batch on the same file fits", async () => {
    const file = await upload(topicExamples(10));
    // 100 × 64 + 64 + 64 × 3 + 3
    await refused(
      { model: 'glove-100d', training_file: file, hyperparameters: { head: 'mlp', hidden: 64 } },
      { what: 'head_params', value: 6659, limit: 1000, variable: 'LATHE_TRAINING_MAX_HEAD_PARAMS' },
      "the job would have 6659 head parameters; this server's limit is 1000 (LATHE_TRAINING_MAX_HEAD_PARAMS)",
    );
    // 27 rows a step × 3 classes; the default batch of 24 (of 24 training rows) fits.
    await refused(
      { model: 'glove-100d', training_file: file, hyperparameters: { batch_size: 27 } },
      { what: 'step_values', value: 81, limit: 80, variable: 'LATHE_TRAINING_MAX_STEP_VALUES' },
      "the job would have 81 values in one training step (batch_size × (outputs + hidden units)); this server's limit is 80 (LATHE_TRAINING_MAX_STEP_VALUES)",
    );
    assert.equal(await count(t, 'fine_tuning_jobs'), 0);
    assert.equal((await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'lathe-fine-tuning'`)).rows[0].n, 0);
    const fits = await post({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 1 } });
    assert.equal(fits.status, 200, fits.text);
    await waitForStatus(t.server, fits.body.id, ['succeeded'], 60_000);
  });

  it('training steps (each one a stored metrics row), counted as the trainer takes them: 413', async () => {
    // 30 examples, 6 held out for validation: 24 steps an epoch at batch_size 1.
    const file = await upload(topicExamples(10));
    await refused(
      { model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 21, batch_size: 1 } },
      { what: 'steps', value: 504, limit: 500, variable: 'LATHE_TRAINING_MAX_STEPS' },
      "the job would have 504 training steps (n_epochs × training examples / batch_size, each one stored metrics row); this server's limit is 500 (LATHE_TRAINING_MAX_STEPS)",
    );
    // With a validation file nothing is held out: 30 steps an epoch.
    await refused(
      {
        model: 'glove-100d',
        training_file: file,
        validation_file: await upload(topicExamples(3, 2)),
        hyperparameters: { n_epochs: 17, batch_size: 1 },
      },
      { what: 'steps', value: 510, limit: 500, variable: 'LATHE_TRAINING_MAX_STEPS' },
      "the job would have 510 training steps (n_epochs × training examples / batch_size, each one stored metrics row); this server's limit is 500 (LATHE_TRAINING_MAX_STEPS)",
    );
    const fits = await post({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 20, batch_size: 1 } });
    assert.equal(fits.status, 200, fits.text);
    const done = await waitForStatus(t.server, fits.body.id, ['succeeded'], 60_000);
    assert.equal((done.metrics as { steps: number }).steps, 480);
  });
});

describe('fine-tuning feature cache: stored and read in chunks', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ LATHE_FEATURES_CHUNK_BYTES: '4096' });
  });
  after(() => t.close());

  it('an entry larger than one chunk round-trips exactly', async () => {
    const repo = t.app.get(FeaturesRepository);
    const features = new Float32Array(3001 * 7).map((_, i) => Math.fround(Math.sin(i) * 1000));
    await repo.save('d'.repeat(64), 'b'.repeat(64), { rows: 3001, dim: 7, tokens: 12345, features });
    const chunks = await adminQuery(
      t.db.url,
      `SELECT count(*)::int AS n, max(octet_length(data))::int AS largest, sum(octet_length(data))::int AS total FROM fine_tuning_feature_chunks WHERE dataset_sha256 = $1`,
      ['d'.repeat(64)],
    );
    assert.deepEqual(chunks.rows[0], { n: Math.ceil((3001 * 7 * 4) / 4096), largest: 4096, total: 3001 * 7 * 4 });
    const back = (await repo.find('d'.repeat(64), 'b'.repeat(64)))!;
    assert.deepEqual({ rows: back.rows, dim: back.dim, tokens: back.tokens }, { rows: 3001, dim: 7, tokens: 12345 });
    assert.deepEqual(Buffer.from(back.features.buffer), Buffer.from(features.buffer));
    // The first writer wins; a second save of the same key writes nothing.
    await repo.save('d'.repeat(64), 'b'.repeat(64), { rows: 1, dim: 7, tokens: 0, features: new Float32Array(7) });
    assert.equal((await repo.find('d'.repeat(64), 'b'.repeat(64)))!.rows, 3001);
  });

  it('a second job on the same dataset reads the chunked features back, equal to what the backbone serves', async () => {
    const examples = topicExamples(40);
    const file = ((await uploadFile(t.server, jsonl(examples))).body as FileBody).id;
    const ids: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const res = await request(t.server)
        .post('/v1/fine_tuning/jobs')
        .send({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 1 } });
      assert.equal(res.status, 200, res.text);
      await waitForStatus(t.server, res.body.id, ['succeeded'], 60_000);
      ids.push(res.body.id);
    }
    assert.ok(
      (await eventMessages(t.server, ids[0]!)).some((m) => m.startsWith('Computed glove-100d features of the training file (120 × 100, ')),
    );
    assert.ok(
      (await eventMessages(t.server, ids[1]!)).includes('Reused cached glove-100d features of the training file (120 × 100)'),
      (await eventMessages(t.server, ids[1]!)).join('\n'),
    );
    const { rows } = await adminQuery(
      t.db.url,
      `SELECT dataset_sha256, backbone_sha256, chunks FROM fine_tuning_features WHERE dataset_sha256 = $1`,
      [datasetHash(examples.map((e) => e.text))],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].chunks, Math.ceil((120 * 100 * 4) / 4096));
    const cached = (await t.app.get(FeaturesRepository).find(rows[0].dataset_sha256, rows[0].backbone_sha256))!;
    const served = await request(t.server)
      .post('/v1/embeddings')
      .send({ model: 'glove-100d', input: examples.map((e) => e.text) });
    assert.equal(served.status, 200);
    const expected = Float32Array.from((served.body.data as Array<{ embedding: number[] }>).flatMap((d) => d.embedding));
    assert.deepEqual(Buffer.from(cached.features.buffer), Buffer.from(expected.buffer));
  });
});

describe('fine-tuning queue messages end with their jobs', () => {
  let t: TestApp;
  const messages = async (jobId: string) =>
    (
      await adminQuery(
        t.db.url,
        `SELECT state::text AS state FROM pgboss.job WHERE name = 'lathe-fine-tuning' AND data->>'jobId' = $1 ORDER BY created_on`,
        [jobId],
      )
    ).rows.map((r) => r.state as string);
  const create = async (hyperparameters: object) => {
    const file = ((await uploadFile(t.server, jsonl(topicExamples(10)))).body as FileBody).id;
    const res = await request(t.server).post('/v1/fine_tuning/jobs').send({ model: 'glove-100d', training_file: file, hyperparameters });
    assert.equal(res.status, 200, res.text);
    return res.body.id as string;
  };

  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('a cancel closes the message in the same transaction; a succeeded job completes it', async () => {
    const running = await create({ n_epochs: 1000, batch_size: 1 });
    await waitForStatus(t.server, running, ['running'], 30_000);
    assert.deepEqual(await messages(running), ['active']);
    assert.equal((await request(t.server).post(`/v1/fine_tuning/jobs/${running}/cancel`)).status, 200);
    assert.deepEqual(await messages(running), ['cancelled']);
    const done = await create({ n_epochs: 1 });
    await waitForStatus(t.server, done, ['succeeded'], 60_000);
    await waitFor(async () => ((await messages(done))[0] === 'completed' ? true : undefined), 10_000, 'the message to complete');
  });

  it('the sweep closes messages a killed runner left active or waiting for finished jobs', async () => {
    const jobs = (await adminQuery(t.db.url, `SELECT id, status FROM fine_tuning_jobs ORDER BY seq`)).rows as Array<{
      id: string;
      status: string;
    }>;
    assert.deepEqual(
      jobs.map((j) => j.status),
      ['cancelled', 'succeeded'],
    );
    // No fetcher here, as after a kill: only the sweep may touch the messages.
    await t.app.get(JobQueue).stopWorking();
    // As a SIGKILL leaves them: the cancelled job's message waiting again, the succeeded one's active.
    await adminQuery(t.db.url, `UPDATE pgboss.job SET state = 'created', completed_on = NULL WHERE data->>'jobId' = $1`, [jobs[0]!.id]);
    await adminQuery(
      t.db.url,
      `UPDATE pgboss.job SET state = 'active', completed_on = NULL, started_on = now() - interval '1 hour' WHERE data->>'jobId' = $1`,
      [jobs[1]!.id],
    );
    await adminQuery(t.db.url, `UPDATE fine_tuning_jobs SET status = 'failed' WHERE id = $1`, [jobs[1]!.id]);
    await t.app.get(LeaseSweeper).sweep();
    assert.deepEqual(await messages(jobs[0]!.id), ['cancelled']);
    assert.deepEqual(await messages(jobs[1]!.id), ['failed']);
  });

  it('a job the sweeper fails as runner_lost has its message failed too', async () => {
    const id = await create({ n_epochs: 1 });
    assert.deepEqual(await messages(id), ['created']);
    // A job whose runner died on its last allowed attempt, its message left active.
    await adminQuery(
      t.db.url,
      `UPDATE fine_tuning_jobs SET status = 'running', attempts = 3, lease_token = gen_random_uuid(), heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
      [id],
    );
    await adminQuery(t.db.url, `UPDATE pgboss.job SET state = 'active', started_on = now() WHERE data->>'jobId' = $1`, [id]);
    await t.app.get(LeaseSweeper).sweep();
    const job = await waitForStatus(t.server, id, ['failed'], 5_000);
    assert.equal(job.error!.code, 'runner_lost');
    assert.deepEqual(await messages(id), ['failed']);
  });
});

describe('fine-tuning runs: cancel ends the thread, runners, the longest run', () => {
  const createJob = async (t: TestApp, hyperparameters: object, examples = 10) => {
    const file = ((await uploadFile(t.server, jsonl(topicExamples(examples)))).body as FileBody).id;
    const res = await request(t.server).post('/v1/fine_tuning/jobs').send({ model: 'glove-100d', training_file: file, hyperparameters });
    assert.equal(res.status, 200, res.text);
    return res.body.id as string;
  };
  const history = async (t: TestApp, id: string) => ({
    steps: ((await request(t.server).get(`/v1/fine_tuning/jobs/${id}/metrics`)).body.steps as unknown[]).length,
    events: await eventMessages(t.server, id),
  });

  it('a cancelled running job has its training thread ended, records nothing after, and the job queued behind it runs', async () => {
    const t = await startTestApp();
    try {
      const long = await createJob(t, { n_epochs: 1000, batch_size: 1 });
      const next = await createJob(t, { n_epochs: 1 });
      await waitFor(async () => ((await history(t, long)).steps >= 50 ? true : undefined), 30_000, 'the first job to train');
      assert.equal((await getJob(t.server, next)).status, 'queued', 'one runner: the second job waits');
      const runner = t.app.get(JobRunner);
      assert.deepEqual(runner.running(), [long]);
      assert.equal((await request(t.server).post(`/v1/fine_tuning/jobs/${long}/cancel`)).status, 200);
      // A run leaves running() only once its training thread has exited.
      await waitFor(async () => (runner.running().includes(long) ? undefined : true), 5_000, 'the training thread to end');
      const stopped = await waitFor(
        async () => (await eventMessages(t.server, long)).find((m) => m.startsWith('Training stopped')),
        5_000,
        'the stop event',
      );
      const atStop = await history(t, long);
      assert.equal(atStop.events.at(-1), stopped);
      await waitForStatus(t.server, next, ['succeeded'], 60_000);
      assert.deepEqual(await history(t, long), atStop);
      const steps = (await request(t.server).get(`/v1/fine_tuning/jobs/${long}/metrics`)).body.steps as Array<{ step: number }>;
      assert.equal(steps.at(-1)!.step, Number(/at step (\d+)/.exec(stopped)![1]));
    } finally {
      await t.close();
    }
  });

  it('LATHE_TRAINING_RUNNERS jobs run at once, and a run past LATHE_TRAINING_MAX_SECONDS fails with training_timeout', async () => {
    const t = await startTestApp({ LATHE_TRAINING_RUNNERS: '2', LATHE_TRAINING_MAX_SECONDS: '4' });
    try {
      // 1000 epochs of 480 training rows, one at a time: far past 4 s on any machine (1000 epochs of 24 rows
      // finished in about 3 s on a quiet one, before the limit).
      const ids = [await createJob(t, { n_epochs: 1000, batch_size: 1 }, 200), await createJob(t, { n_epochs: 1000, batch_size: 1 }, 200)];
      await waitFor(async () => (t.app.get(JobRunner).running().length === 2 ? true : undefined), 10_000, 'both jobs to run at once');
      for (const id of ids) {
        const job = await waitForStatus(t.server, id, ['failed'], 20_000).catch(async (err) => {
          throw new Error(
            `${err}: ${JSON.stringify(await getJob(t.server, id))} ${(await eventMessages(t.server, id)).join(' | ')} running=${t.app.get(JobRunner).running()}`,
          );
        });
        assert.equal(job.error!.code, 'training_timeout');
        assert.match(
          job.error!.message,
          /^the run was stopped( at step \d+ \(epoch \d+\))? after 4 s, the longest a run may take here \(LATHE_TRAINING_MAX_SECONDS\)$/,
        );
        assert.equal((job.error as unknown as { param: unknown }).param, null);
      }
      await waitFor(async () => (t.app.get(JobRunner).running().length === 0 ? true : undefined), 5_000, 'both threads to end');
      const states = await adminQuery(
        t.db.url,
        `SELECT state::text AS state FROM pgboss.job WHERE name = 'lathe-fine-tuning' ORDER BY created_on`,
      );
      assert.deepEqual(
        states.rows.map((r) => r.state),
        ['failed', 'failed'],
      );
    } finally {
      await t.close();
    }
  });
});

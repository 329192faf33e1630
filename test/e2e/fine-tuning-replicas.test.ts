import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { JobRunner } from '../../src/fine-tuning/runner/job-runner.service.js';
import { adminQuery } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/processes.js';
import { eventMessages, type FileBody, jsonl, startReplica, topicExamples, uploadFile, waitForStatus } from '../support/fine-tuning.js';

/** Two replicas on one database: each job runs once, on one of them. */
describe('fine-tuning: two replicas', () => {
  let a: TestApp;
  let b: Awaited<ReturnType<typeof startReplica>>;

  before(async () => {
    a = await startTestApp();
    b = await startReplica(a.db.url);
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('runs every job exactly once, whichever replica takes it', async () => {
    const file = ((await uploadFile(a.server, jsonl(topicExamples(30)))).body as FileBody).id;
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const server = i % 2 === 0 ? a.server : b.server;
      const res = await request(server)
        .post('/v1/fine_tuning/jobs')
        .send({ model: 'glove-100d', training_file: file, seed: i, hyperparameters: { n_epochs: 30, batch_size: 4 } });
      assert.equal(res.status, 200, res.text);
      ids.push(res.body.id);
    }
    for (const id of ids) assert.equal((await waitForStatus(b.server, id, ['succeeded', 'failed'], 60_000)).status, 'succeeded');
    for (const id of ids) {
      const messages = await eventMessages(a.server, id);
      assert.equal(messages.filter((m) => m === 'Fine-tuning job started').length, 1, messages.join('\n'));
      assert.equal(messages.filter((m) => m.startsWith('Fine-tuning job resumed')).length, 0);
    }
    const attempts = await adminQuery(a.db.url, 'SELECT attempts FROM fine_tuning_jobs ORDER BY id');
    assert.deepEqual(
      attempts.rows.map((r) => r.attempts),
      [1, 1, 1, 1],
    );
    assert.equal((await adminQuery(a.db.url, 'SELECT count(*)::int AS n FROM fine_tuned_models')).rows[0].n, 4);
    // Every model is served by both replicas, whichever trained it, without a restart (LISTEN/NOTIFY).
    const models = (await adminQuery(a.db.url, 'SELECT name FROM fine_tuned_models')).rows.map((r) => r.name as string);
    for (const server of [a.server, b.server]) {
      for (const model of models) {
        const labels = await waitFor(
          async () => {
            const res = await request(server).post('/v1/text/classify').send({ model, inputs: 'the eagle flew over the river' });
            return res.status === 200 ? (res.body as Array<{ label: string }>).map((p) => p.label) : undefined;
          },
          30_000,
          `${model} served`,
        );
        assert.equal(labels.length, 1);
      }
    }
  });

  it('a second runner for a job that is running does nothing (the lease is held)', async () => {
    const file = ((await uploadFile(a.server, jsonl(topicExamples(30)))).body as FileBody).id;
    const res = await request(a.server)
      .post('/v1/fine_tuning/jobs')
      .send({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 1000, batch_size: 1 } });
    const id = res.body.id as string;
    await waitForStatus(a.server, id, ['running'], 10_000);
    // Both replicas' runners are handed the same job, as a duplicated queue message would.
    await Promise.all([a.app.get(JobRunner).run(id), b.app.get(JobRunner).run(id)]);
    assert.equal((await request(a.server).get(`/v1/fine_tuning/jobs/${id}`)).body.status, 'running');
    assert.equal((await adminQuery(a.db.url, 'SELECT attempts FROM fine_tuning_jobs WHERE id = $1', [id])).rows[0].attempts, 1);
    await request(b.server).post(`/v1/fine_tuning/jobs/${id}/cancel`).expect(200);
    await waitForStatus(a.server, id, ['cancelled'], 5_000);
    // Whichever replica runs it sees the cancel: at once when it answered it, else at its next heartbeat.
    await waitFor(
      async () => ((await eventMessages(a.server, id)).some((m) => m.startsWith('Training stopped')) ? true : undefined),
      10_000,
      'the runner to stop',
    );
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { FineTuningDb } from '../../src/fine-tuning/fine-tuning-db.js';
import { type EpochRecord, JobMetricsRepository } from '../../src/fine-tuning/jobs/job-metrics.repository.js';
import { CheckpointsService } from '../../src/fine-tuning/runner/checkpoints.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminQuery } from '../support/database.js';

interface ListedCheckpoint {
  step_number: number;
  artifact_id: string;
  metrics: Record<string, number>;
}

/** Checkpoints are pruned as they are written: the newest LATHE_CHECKPOINTS_KEEP_LAST and the best by valid_loss stay. */
describe('checkpoint retention', () => {
  let t: TestApp;
  let checkpoints: CheckpointsService;
  const lease = randomUUID();

  /** A running job that this test holds the lease of, as a runner would. */
  const runningJob = async (id: string) => {
    await adminQuery(
      t.db.url,
      `INSERT INTO fine_tuning_jobs (id, model, model_version, seed, training_file, hyperparameters, task, status, lease_token)
       VALUES ($1, 'glove-100d', '1', 1, 'file-x', '{}', 'classification', 'running', $2)`,
      [id, lease],
    );
  };
  const epoch = (n: number, validLoss: number | undefined): EpochRecord => ({
    epoch: n,
    step: n * 10,
    train_loss: 1 / n,
    ...(validLoss === undefined ? {} : { valid_loss: validLoss }),
    improved: false,
    seconds: 0.1,
  });
  const save = (jobId: string, step: number, record: EpochRecord | undefined) =>
    checkpoints.save({
      jobId,
      leaseToken: lease,
      name: `ckpt-${step}`,
      step,
      epoch: record?.epoch ?? Math.floor(step / 10),
      record,
      trainLoss: 0.5,
      totalEpochs: 10,
      totalSteps: 100,
      steps: [],
      state: Buffer.from(`state at step ${step}`),
    });
  const listed = async (jobId: string) => {
    const res = await request(t.server).get(`/v1/fine_tuning/jobs/${jobId}/checkpoints?limit=100`);
    assert.equal(res.status, 200, res.text);
    return res.body.data as ListedCheckpoint[];
  };
  const storedCheckpointArtifacts = async (jobId: string) =>
    (await adminQuery(t.db.url, `SELECT id FROM artifacts WHERE job_id = $1 AND kind = 'checkpoint' ORDER BY id`, [jobId])).rows.map(
      (r) => r.id as string,
    );

  before(async () => {
    t = await startTestApp({ LATHE_CHECKPOINTS_KEEP_LAST: '2' });
    checkpoints = t.app.get(CheckpointsService);
  });
  after(() => t.close());

  it('keeps the newest two and the lowest valid_loss, and deletes the artifacts of the rest', async () => {
    const id = 'ftjob-000000000000000000000001';
    await runningJob(id);
    const validLosses = [0.9, 0.5, 0.3, 0.4, 0.3, 0.6, 0.7, 0.8];
    const artifacts: string[] = [];
    for (const [i, loss] of validLosses.entries()) {
      assert.equal(await save(id, (i + 1) * 10, epoch(i + 1, loss)), true);
      artifacts.push((await listed(id))[0]!.artifact_id);
    }
    // A pause mid-epoch 9 (no validation) is a checkpoint like any other.
    assert.equal(await save(id, 85, undefined), true);

    const kept = await listed(id);
    // 85 and 80 are the newest; 30 is the first of the two lowest valid losses (0.3 at 30 and 50).
    assert.deepEqual(
      kept.map((c) => c.step_number),
      [85, 80, 30],
    );
    assert.deepEqual(
      kept.map((c) => c.metrics.valid_loss),
      [undefined, 0.8, 0.3],
    );
    assert.deepEqual(await storedCheckpointArtifacts(id), kept.map((c) => c.artifact_id).sort());
    const pruned = await request(t.server).get(`/v1/artifacts/${artifacts[1]}`);
    assert.equal(pruned.status, 404);
    assert.deepEqual(pruned.body.error, {
      code: 'NOT_FOUND',
      message: `no artifact with id "${artifacts[1]}"`,
      type: 'invalid_request_error',
      param: null,
    });
    const best = await request(t.server)
      .get(`/v1/artifacts/${kept[2]!.artifact_id}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    assert.equal(best.status, 200);
    assert.equal((best.body as Buffer).toString(), 'state at step 30');
    assert.equal((await checkpoints.latest(id))!.state.toString(), 'state at step 85');
  });

  it('a resumed run that rewrites a step leaves no orphaned trainer state behind', async () => {
    const id = 'ftjob-000000000000000000000002';
    await runningJob(id);
    await save(id, 10, epoch(1, 0.5));
    await save(id, 20, epoch(2, 0.4));
    // Resumed from step 10, the run writes step 20 again: the row points at a new artifact.
    await save(id, 20, epoch(2, 0.45));
    const kept = await listed(id);
    assert.deepEqual(
      kept.map((c) => c.step_number),
      [20, 10],
    );
    assert.deepEqual(await storedCheckpointArtifacts(id), kept.map((c) => c.artifact_id).sort());
  });

  it('other jobs and heads are untouched, and a runner without the lease prunes nothing', async () => {
    const before = await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM artifacts`);
    assert.equal(
      await checkpoints.save({
        jobId: 'ftjob-000000000000000000000001',
        leaseToken: randomUUID(),
        name: 'x',
        step: 90,
        epoch: 9,
        record: epoch(9, 0.1),
        trainLoss: 0.1,
        totalEpochs: 10,
        totalSteps: 100,
        steps: [],
        state: Buffer.from('lost lease'),
      }),
      false,
    );
    assert.deepEqual((await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM artifacts`)).rows, before.rows);
    assert.deepEqual(
      (await listed('ftjob-000000000000000000000001')).map((c) => c.step_number),
      [85, 80, 30],
    );
    assert.deepEqual(
      (await listed('ftjob-000000000000000000000002')).map((c) => c.step_number),
      [20, 10],
    );
  });

  it('the policy itself: `all` prunes nothing, keep-best off keeps only the newest', async () => {
    const metrics = t.app.get(JobMetricsRepository);
    const prune = (keepLast: number | null, keepBest: boolean) =>
      t.app.get(FineTuningDb).transaction((tx) => metrics.pruneCheckpoints('ftjob-000000000000000000000001', keepLast, keepBest, tx));
    await prune(null, false);
    assert.deepEqual(
      (await listed('ftjob-000000000000000000000001')).map((c) => c.step_number),
      [85, 80, 30],
    );
    await prune(1, false);
    assert.deepEqual(
      (await listed('ftjob-000000000000000000000001')).map((c) => c.step_number),
      [85],
    );
  });

  it('at boot, checkpoints kept by an older release are pruned for every job, and orphaned trainer states deleted', async () => {
    const id = 'ftjob-000000000000000000000003';
    await runningJob(id);
    await adminQuery(t.db.url, `UPDATE fine_tuning_jobs SET status = 'succeeded', lease_token = NULL WHERE id = $1`, [id]);
    const losses = [0.5, 0.2, 0.4, 0.6, 0.7, 0.8];
    for (const [i, loss] of losses.entries()) {
      const artifact = `artifact-old-${i}`;
      await adminQuery(
        t.db.url,
        `INSERT INTO artifacts (id, kind, media_type, bytes, sha256, content, job_id) VALUES ($1, 'checkpoint', 'x', 1, 'x', '\\x00', $2)`,
        [artifact, id],
      );
      await adminQuery(
        t.db.url,
        `INSERT INTO fine_tuning_checkpoints (id, job_id, step_number, epoch, metrics, artifact_id) VALUES ($1, $2, $3, $4, $5, $6)`,
        [`ftckpt-old-${i}`, id, (i + 1) * 10, i + 1, JSON.stringify({ step: (i + 1) * 10, valid_loss: loss }), artifact],
      );
    }
    await adminQuery(
      t.db.url,
      `INSERT INTO artifacts (id, kind, media_type, bytes, sha256, content, job_id) VALUES ('artifact-orphan', 'checkpoint', 'x', 1, 'x', '\\x00', $1)`,
      [id],
    );
    await checkpoints.onApplicationBootstrap();
    const kept = await listed(id);
    assert.deepEqual(
      kept.map((c) => c.step_number),
      [60, 50, 20],
    );
    assert.deepEqual(await storedCheckpointArtifacts(id), ['artifact-old-1', 'artifact-old-4', 'artifact-old-5']);
    // The jobs pruned as they were written keep what they had.
    assert.deepEqual(
      (await listed('ftjob-000000000000000000000002')).map((c) => c.step_number),
      [20, 10],
    );
  });
});

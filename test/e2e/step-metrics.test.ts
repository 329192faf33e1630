import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FineTuningDb, type Sql } from '../../src/fine-tuning/fine-tuning-db.js';
import { JobMetricsRepository, STEPS_PER_STATEMENT, type StepRecord } from '../../src/fine-tuning/jobs/job-metrics.repository.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminQuery } from '../support/database.js';

/**
 * A run that trained on while the database was away comes back with a backlog of steps: far more
 * than one statement should carry (the query timeout) or a call takes as arguments.
 */
describe('step metrics: a backlog of steps', () => {
  let t: TestApp;
  const jobId = 'ftjob-5e0000000000000000000001';
  const steps = (from: number, n: number, loss: number): StepRecord[] =>
    Array.from({ length: n }, (_, i) => ({
      step: from + i,
      epoch: Math.floor((from + i - 1) / 192) + 1,
      train_loss: loss,
      learning_rate: 0.01,
      batch_size: 1,
    }));

  before(async () => {
    t = await startTestApp();
    await adminQuery(
      t.db.url,
      `INSERT INTO fine_tuning_jobs (id, model, model_version, seed, training_file, hyperparameters, task, status)
       VALUES ($1, 'glove-100d', '1', 1, 'file-x', '{}', 'classification', 'running')`,
      [jobId],
    );
  });
  after(() => t.close());

  it(`is written ${STEPS_PER_STATEMENT} steps to a statement, every step once, and a repeat overwrites`, async () => {
    const db = t.app.get(FineTuningDb);
    const statements: number[] = [];
    const counting: Sql = {
      rows: async <T>(text: string, params?: readonly unknown[]) => {
        statements.push((JSON.parse(params![1] as string) as unknown[]).length);
        return db.rows<T>(text, params);
      },
    };
    const backlog = steps(1, 150_001, 0.5);
    await t.app.get(JobMetricsRepository).saveSteps(jobId, backlog, counting);
    const full = Math.floor(150_001 / STEPS_PER_STATEMENT);
    assert.deepEqual(statements, [...Array.from({ length: full }, () => STEPS_PER_STATEMENT), 150_001 - full * STEPS_PER_STATEMENT]);

    // A write repeated after a stall (the client gave up on a statement that landed) changes nothing but the values.
    await t.app.get(JobMetricsRepository).saveSteps(jobId, steps(149_001, 1_000, 0.25));
    const rows = (
      await adminQuery(
        t.db.url,
        `SELECT count(*)::int AS n, min(number) AS lo, max(number) AS hi, count(DISTINCT number)::int AS distinct_steps,
                count(*) FILTER (WHERE (data->>'train_loss')::float8 = 0.25)::int AS rewritten
           FROM fine_tuning_metrics WHERE job_id = $1 AND kind = 'step'`,
        [jobId],
      )
    ).rows;
    assert.deepEqual(rows, [{ n: 150_001, lo: 1, hi: 150_001, distinct_steps: 150_001, rewritten: 1_000 }]);
  });
});

import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { JobsRepository } from '../jobs/jobs.repository.js';
import { HEARTBEAT_MS, JobLease, STALL_TOLERANCE_MS } from './job-lease.js';

const unavailable = () => new Error('Query read timeout');

function leaseWith(heartbeat: () => Promise<boolean>) {
  const errors: string[] = [];
  const jobs = { heartbeat, find: async () => ({ status: 'running' }) } as unknown as JobsRepository;
  const lease = new JobLease('ftjob-1', 'token', jobs, (err, what) => errors.push(`${what}: ${err.message}`));
  return { lease, errors };
}

describe('JobLease', () => {
  it('beats one at a time while the database stalls', async () => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    try {
      let inFlight = 0;
      let calls = 0;
      const stalled: Array<() => void> = [];
      const { lease } = leaseWith(() => {
        calls += 1;
        inFlight += 1;
        return new Promise((resolve) => stalled.push(() => ((inFlight -= 1), resolve(true))));
      });
      lease.start();
      for (let i = 0; i < 20; i += 1) mock.timers.tick(HEARTBEAT_MS);
      assert.deepEqual({ calls, inFlight }, { calls: 1, inFlight: 1 });
      stalled.shift()!();
      await new Promise((r) => setImmediate(r));
      mock.timers.tick(HEARTBEAT_MS);
      assert.deepEqual({ calls, inFlight }, { calls: 2, inFlight: 1 });
      lease.end();
    } finally {
      mock.timers.reset();
    }
  });

  it('persist retries a write while the database is unavailable, logging each failure', async () => {
    const { lease, errors } = leaseWith(async () => true);
    let attempts = 0;
    const result = await lease.persist(async () => {
      attempts += 1;
      if (attempts < 3) throw unavailable();
      return 'written';
    });
    assert.equal(result, 'written');
    assert.deepEqual(errors, [
      'a write (trying again in 250 ms): Query read timeout',
      'a write (trying again in 500 ms): Query read timeout',
    ]);
  });

  it('persist throws other errors at once', async () => {
    const { lease, errors } = leaseWith(async () => true);
    let attempts = 0;
    await assert.rejects(
      lease.persist(async () => {
        attempts += 1;
        throw Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });
      }),
      /duplicate key/,
    );
    assert.deepEqual({ attempts, errors }, { attempts: 1, errors: [] });
  });

  it('persist gives up within STALL_TOLERANCE_MS, before the sweeper could take the job over', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      const { lease } = leaseWith(async () => true);
      let attempts = 0;
      const write = lease.persist(async () => {
        attempts += 1;
        throw unavailable();
      });
      const outcome = write.then(
        () => 'resolved',
        (err: Error) => err.message,
      );
      for (let t = 0; t < STALL_TOLERANCE_MS + 5_000; t += 250) {
        await new Promise((r) => setImmediate(r));
        mock.timers.tick(250);
      }
      assert.equal(await outcome, 'Query read timeout');
      assert.ok(attempts > 10 && attempts < 40, `${attempts} attempts`);
    } finally {
      mock.timers.reset();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../common/errors/app-error.js';
import { Limiter } from './limiter.js';

describe('Limiter', () => {
  it('runs at most `concurrency` at once, queues `maxWaiting` more, and refuses the rest with OVERLOADED', async () => {
    const limiter = new Limiter('decoding', 2, 1);
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const job = () =>
      limiter.run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => releases.push(r));
        running -= 1;
        return 'done';
      });
    const accepted = [job(), job(), job()];
    await assert.rejects(
      job(),
      (err: AppError) => err.code === 'OVERLOADED' && err.headers?.['retry-after'] === '1' && /2 running and 1 waiting/.test(err.message),
    );
    while (releases.length < 2) await new Promise((r) => setImmediate(r));
    releases.splice(0).forEach((r) => r());
    while (releases.length < 1) await new Promise((r) => setImmediate(r));
    releases.splice(0).forEach((r) => r());
    assert.deepEqual(await Promise.all(accepted), ['done', 'done', 'done']);
    assert.equal(peak, 2);
    assert.equal(await limiter.run(async () => 'again'), 'again');
  });

  it('frees its slot when the work fails', async () => {
    const limiter = new Limiter('decoding', 1, 0);
    await assert.rejects(
      limiter.run(async () => Promise.reject(new Error('bad audio'))),
      /bad audio/,
    );
    assert.equal(await limiter.run(async () => 1), 1);
  });
});

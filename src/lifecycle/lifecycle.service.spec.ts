import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LifecycleService } from './lifecycle.service.js';

describe('LifecycleService', () => {
  it('is idle at once when nothing is in flight', async () => {
    assert.equal(await new LifecycleService().waitForIdle(10_000), true);
  });

  it('waits for the last request to finish', async () => {
    const lifecycle = new LifecycleService();
    lifecycle.requestStarted();
    lifecycle.requestStarted();
    const idle = lifecycle.waitForIdle(10_000);
    lifecycle.requestFinished();
    setImmediate(() => lifecycle.requestFinished());
    assert.equal(await idle, true);
    assert.equal(lifecycle.requestsInFlight, 0);
  });

  it('gives up after the grace period', async () => {
    const lifecycle = new LifecycleService();
    lifecycle.requestStarted();
    assert.equal(await lifecycle.waitForIdle(20), false);
    assert.equal(lifecycle.requestsInFlight, 1);
  });

  it('tells drain listeners once and reports draining', async () => {
    const lifecycle = new LifecycleService();
    let calls = 0;
    lifecycle.onDrain(() => {
      calls += 1;
    });
    assert.equal(lifecycle.draining, false);
    await lifecycle.beginDrain();
    await lifecycle.beginDrain();
    assert.equal(lifecycle.draining, true);
    assert.equal(calls, 1);
  });
});

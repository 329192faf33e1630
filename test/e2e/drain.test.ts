import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, killSpawned, spawnNode, waitForStatus } from '../support/processes.js';

const SERVE_WITH_FIXTURES = fileURLToPath(new URL('../support/serve-with-fixtures.js', import.meta.url));
const GRACE_MS = 2_000;
const DELAY_MS = 1_500;

/** A GET on a fresh connection: resolves with status and body, or the socket error's code. */
function get(url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

describe('SIGTERM drain', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    killSpawned();
    await db.drop();
  });

  it('finishes in-flight requests, answers 503 on readiness meanwhile, cuts what outlives the grace, then refuses connections', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const run = spawnNode(SERVE_WITH_FIXTURES, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      LATHE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'info',
    });
    await waitForStatus(`${base}/health/ready`, 200, 30_000);

    const short = get(`${base}/test/slow?ms=800`);
    const long = get(`${base}/test/slow?ms=30000`);
    await waitForStatus(`${base}/health/live`, 200, 5_000); // both slow requests are now in flight
    const signalledAt = Date.now();
    run.child.kill('SIGTERM');

    const ready = await waitForStatus(`${base}/health/ready`, 503, 1_000);
    assert.deepEqual(await ready.json(), {
      status: 'not_ready',
      draining: true,
      checks: { database: { status: 'up' }, models: { status: 'up' } },
    });

    assert.deepEqual(await short, { status: 200, body: '{"sleptMs":800}' });
    const cut = await long;
    const cutAfter = Date.now() - signalledAt;
    assert.ok('error' in cut, `the 30 s request must be cut, got ${JSON.stringify(cut)}`);
    assert.ok(cutAfter >= GRACE_MS - 100 && cutAfter < GRACE_MS + 3_000, `cut after ${cutAfter} ms`);

    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
    assert.deepEqual(await get(`${base}/health/live`), { error: 'ECONNREFUSED' });
    // The two slow requests, and the liveness probe if its socket had not closed yet when the signal came.
    assert.match(run.output(), /SIGTERM: draining [23] in-flight request\(s\), grace 2000 ms/);
    assert.match(run.output(), /Closing with 1 request\(s\) still in flight/);
    assert.doesNotMatch(run.output(), /Embedded PostgreSQL/, 'with DATABASE_URL the embedded server is never started');
  });

  it('with LATHE_SHUTDOWN_DELAY_MS, goes on accepting for the delay after SIGTERM even with nothing in flight', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const run = spawnNode(SERVE_WITH_FIXTURES, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      LATHE_SHUTDOWN_DELAY_MS: String(DELAY_MS),
      LATHE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'info',
    });
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    await waitForStatus(`${base}/health/ready`, 503, 1_000);
    // A request that arrives during the delay, on a fresh connection, is served in full.
    await new Promise((r) => setTimeout(r, DELAY_MS / 2 - (Date.now() - signalledAt)));
    assert.deepEqual(await get(`${base}/test/slow?ms=100`), { status: 200, body: '{"sleptMs":100}' });
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
    const exitedAfter = Date.now() - signalledAt;
    assert.ok(exitedAfter >= DELAY_MS && exitedAfter < DELAY_MS + 3_000, `exited after ${exitedAfter} ms`);
    assert.match(run.output(), /SIGTERM: draining [01] in-flight request\(s\), grace 2000 ms, accepting for 1500 ms first/);
    assert.doesNotMatch(run.output(), /Closing with/);
  });
});

import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  isAlive,
  MAIN,
  postgresPidsFor,
  serverSandbox,
  type ServerSandbox,
  spawnCommand,
  spawnNode,
  waitFor,
  waitForStatus,
} from '../support/processes.js';

describe('process: configuration errors', () => {
  it('exits non-zero naming every bad variable', async () => {
    const run = spawnNode(MAIN, { PORT: 'eighty', LATHE_SHUTDOWN_GRACE_MS: '-5', LATHE_API_KEYS: 'x:y' });
    const { code } = await run.exited;
    assert.equal(code, 78);
    const out = run.output();
    assert.match(out, /^lathe: Invalid configuration:$/m);
    assert.match(out, /^ {2}- PORT: .*\(got "eighty"\)$/m);
    assert.match(out, /^ {2}- LATHE_SHUTDOWN_GRACE_MS: .*\(got "-5"\)$/m);
    assert.match(out, /^ {2}- LATHE_API_KEYS: entry 1 \(x\) must be name:sha256hex:scope\+scope$/m);
  });

  it('exits 78 on an API key list of separators only instead of booting with every route open', async () => {
    const run = spawnNode(MAIN, { LATHE_API_KEYS: ' , ' });
    assert.equal((await run.exited).code, 78);
    assert.match(run.output(), /^ {2}- LATHE_API_KEYS: has separators but no entry \(leave it unset or empty to run without keys\)$/m);
  });
});

describe('process: zero-config start on the embedded PostgreSQL', () => {
  let box: ServerSandbox;
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;

  before(async () => {
    box = await serverSandbox('lathe-embedded-', { logLevel: 'info', ownTmpAndHome: true });
    ({ dataDir, env, base } = box);
  });
  after(() => box.cleanup());

  const instances = async () => (await (await fetch(`${base}/v1/instances`)).json()) as { data: Array<{ state: string; pid: number }> };

  it('is ready within 30 s, stops on SIGTERM with exit 0 and leaves no postgres behind', async () => {
    const run = spawnNode(MAIN, env);
    const started = Date.now();
    const ready = await waitForStatus(`${base}/health/ready`, 200, 30_000);
    assert.ok(Date.now() - started < 30_000);
    assert.deepEqual(await ready.json(), {
      status: 'ready',
      draining: false,
      checks: { database: { status: 'up' }, models: { status: 'up' } },
    });
    assert.equal((await postgresPidsFor(dataDir)).length > 0, true);

    // A model session makes ONNX Runtime start: its telemetry must stay off (no device id, event
    // database or log written, nothing uploaded).
    const embedded = await fetch(`${base}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'glove-100d', input: 'cat' }),
    });
    assert.equal(embedded.status, 200, await embedded.text());

    run.child.kill('SIGTERM');
    const exit = await run.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, run.output());
    assert.deepEqual(await postgresPidsFor(dataDir), []);
    assert.match(run.output(), /"msg":"Embedded PostgreSQL stopped"/);
    assert.deepEqual(await readdir(env.TMPDIR!), []);
    assert.deepEqual(await readdir(env.HOME!), []);
  });

  it('stops cleanly when `npm start` (the README command) gets SIGTERM', async () => {
    // --ignore-scripts skips the prestart build (the suite runs on a fresh build) but not `start` itself.
    const run = spawnCommand('npm', ['start', '--ignore-scripts', '--silent'], env);
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    run.child.kill('SIGTERM'); // to npm: it must reach the server, not orphan it
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
    assert.deepEqual(await postgresPidsFor(dataDir), []);
    assert.match(run.output(), /"msg":"Stopped"/);
  });

  it('keeps its data across restarts', async () => {
    const run = spawnNode(MAIN, env);
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    const { data } = await instances();
    assert.deepEqual(
      data.map((i) => i.state),
      ['running', 'stopped', 'stopped'],
      'the earlier runs are still recorded',
    );
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  });

  it('recovers from a SIGKILLed run that left its postgres running', async () => {
    const killed = spawnNode(MAIN, env);
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const orphans = await postgresPidsFor(dataDir);
    assert.ok(orphans.length > 0, 'postgres outlives a SIGKILLed parent');

    const run = spawnNode(MAIN, env);
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    assert.match(run.output(), /left running on .* by an earlier run/);
    for (const pid of orphans) assert.equal(isAlive(pid), false, `orphan ${pid} was stopped`);
    // Newest first: this run, the killed one (it never marked itself stopped; its heartbeat just ends), three clean stops.
    assert.deepEqual(
      (await instances()).data.map((i) => i.state),
      ['running', 'running', 'stopped', 'stopped', 'stopped'],
    );
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.deepEqual(await postgresPidsFor(dataDir), []);
  });

  it('starts over a stale postmaster.pid whose process is gone', async () => {
    await writeFile(join(dataDir, 'postgres', 'postmaster.pid'), `999999\n${dataDir}/postgres\n0\n0\n\n\n\n`);
    const run = spawnNode(MAIN, env);
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    assert.match(run.output(), /Removing stale .*postmaster\.pid \(process 999999 is not running\)/);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    await waitFor(async () => ((await postgresPidsFor(dataDir)).length === 0 ? true : undefined), 5_000, 'postgres to stop');
  });
});

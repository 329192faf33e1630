import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { MAIN, postgresPidsFor, serverSandbox, type ServerSandbox, spawnCommand, waitFor, waitForStatus } from '../support/processes.js';

const PRELOAD = fileURLToPath(new URL('../support/errors-outside-requests.js', import.meta.url));

/** The process-level policy for errors nothing caught, in a real Lathe process (main.js). */
describe('process: errors outside any request', () => {
  let box: ServerSandbox;
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;

  before(async () => {
    box = await serverSandbox('lathe-process-errors-', { logLevel: 'info' });
    ({ dataDir, env, base } = box);
  });
  after(() => box.cleanup());

  it('serves on after a database fault, logged with its stack; exits 1 on anything else, leaving no postgres', async () => {
    const run = spawnCommand(process.execPath, ['--import', PRELOAD, MAIN], env);
    await waitForStatus(`${base}/health/ready`, 200, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${run.output()}`);
    });

    run.child.kill('SIGUSR2');
    const lines = () =>
      run
        .output()
        .split('\n')
        .filter((l) => l.includes('"context":"Process"'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; stack: string });
    await waitFor(async () => (lines().length === 2 ? true : undefined), 10_000, 'two logged faults');
    assert.deepEqual(
      lines()
        .map((l) => [l.level, l.msg, l.stack.split('\n')[0]])
        .sort(),
      [
        [
          50,
          'uncaughtException: a database fault outside any request; serving on',
          'Error: terminating connection due to administrator command',
        ],
        [50, 'unhandledRejection: a database fault outside any request; serving on', 'Error: Query read timeout'],
      ],
    );
    assert.match(lines()[0]!.stack, /\n {4}at /, 'logged with its stack');
    assert.equal((await fetch(`${base}/health/live`)).status, 200);
    const embedded = await fetch(`${base}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'glove-100d', input: 'cat' }),
    });
    assert.equal(embedded.status, 200, await embedded.text());
    assert.equal((await fetch(`${base}/health/ready`)).status, 200);

    run.child.kill('SIGUSR2');
    assert.deepEqual(await run.exited, { code: 1, signal: null });
    const fatal = lines().at(-1)!;
    assert.deepEqual(
      [fatal.level, fatal.msg, fatal.stack.split('\n')[0]],
      [60, 'uncaughtException: exiting', 'TypeError: a bug outside any request'],
    );
    await waitFor(async () => ((await postgresPidsFor(dataDir)).length === 0 ? true : undefined), 10_000, 'the embedded postgres to stop');
  });
});

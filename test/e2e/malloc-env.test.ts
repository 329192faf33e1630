import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { serverSandbox, type ServerSandbox, spawnCommand, waitForStatus } from '../support/processes.js';

async function environOf(pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    text
      .split('\0')
      .filter((kv) => kv !== '')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

// Allocators read their settings once, at process start: the launch path must set them (README, "Memory").
describe('process: the allocator on the `npm start` path', () => {
  let box: ServerSandbox;
  let env: Record<string, string>;
  let base: string;

  before(async () => {
    box = await serverSandbox('lathe-malloc-', { logLevel: 'warn', ownTmpAndHome: true });
    ({ env, base } = box);
  });
  after(() => box.cleanup());

  const serverPid = async () => {
    const { data } = (await (await fetch(`${base}/v1/instances`)).json()) as { data: Array<{ state: string; pid: number }> };
    return data.find((i) => i.state === 'running')!.pid;
  };
  const stop = async (run: ReturnType<typeof spawnCommand>) => {
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
  };

  const start = async (extra: Record<string, string> = {}) => {
    // --ignore-scripts skips the prestart build (the suite runs on a fresh build) but not `start` itself.
    const run = spawnCommand('npm', ['start', '--ignore-scripts', '--silent'], { ...env, ...extra });
    await waitForStatus(`${base}/health/ready`, 200, 30_000);
    const environ = await environOf(await serverPid());
    await stop(run);
    return { LD_PRELOAD: environ.LD_PRELOAD, MALLOC_MMAP_THRESHOLD_: environ.MALLOC_MMAP_THRESHOLD_ };
  };

  it("preloads jemalloc where the system has it, and otherwise fixes glibc's mmap threshold at 64 KiB", async () => {
    const candidates = [
      '/usr/local/lib/libjemalloc.so.2',
      `/usr/lib/${machine()}-linux-gnu/libjemalloc.so.2`,
      '/usr/lib64/libjemalloc.so.2',
    ];
    const jemalloc = candidates.find((path) => existsSync(path));
    assert.deepEqual(
      await start(),
      jemalloc ? { LD_PRELOAD: jemalloc, MALLOC_MMAP_THRESHOLD_: undefined } : { LD_PRELOAD: undefined, MALLOC_MMAP_THRESHOLD_: '65536' },
    );
  });

  it('keeps the allocator settings the operator set', async () => {
    assert.deepEqual(await start({ MALLOC_MMAP_THRESHOLD_: '131072' }), { LD_PRELOAD: undefined, MALLOC_MMAP_THRESHOLD_: '131072' });
  });
});

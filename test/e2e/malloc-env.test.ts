import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { machine } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, killSpawned, makeTempDir, postgresPidsFor, spawnCommand, waitForStatus } from '../support/processes.js';

async function environOf(pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(text.split('\0').filter((kv) => kv !== '').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

// Allocators read their settings once, at process start: the launch path must set them (README, "Memory").
describe('process: the allocator on the `npm start` path', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;

  before(async () => {
    dataDir = await makeTempDir('lathe-malloc-');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { PORT: String(port), HOST: '127.0.0.1', LATHE_DATA_DIR: dataDir, LATHE_EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
    env.TMPDIR = join(dataDir, 'tmp');
    env.HOME = join(dataDir, 'home');
    await mkdir(env.TMPDIR);
    await mkdir(env.HOME);
  });
  after(async () => {
    killSpawned();
    for (const pid of await postgresPidsFor(dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

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

  it('preloads jemalloc where the system has it, and otherwise fixes glibc\'s mmap threshold at 64 KiB', async () => {
    const candidates = ['/usr/local/lib/libjemalloc.so.2', `/usr/lib/${machine()}-linux-gnu/libjemalloc.so.2`, '/usr/lib64/libjemalloc.so.2'];
    const jemalloc = candidates.find((path) => existsSync(path));
    assert.deepEqual(await start(), jemalloc ? { LD_PRELOAD: jemalloc, MALLOC_MMAP_THRESHOLD_: undefined } : { LD_PRELOAD: undefined, MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it('keeps the allocator settings the operator set', async () => {
    assert.deepEqual(await start({ MALLOC_MMAP_THRESHOLD_: '131072' }), { LD_PRELOAD: undefined, MALLOC_MMAP_THRESHOLD_: '131072' });
  });
});

/**
 * The thread that answers HTTP stays responsive while a model generates for 16 streamed clients:
 * tokenizing, sampling, detokenizing and the decode steps run in the model's worker, and the
 * main thread only forwards each token's event.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { decoderManifest, writeDecoderModel } from '../support/decoder-model.js';
import { writeManifest } from '../support/models.js';
import { freePort, killSpawned, MAIN, makeTempDir, spawnNode, waitForStatus } from '../support/processes.js';

describe('event loop during text generation (a real server process)', () => {
  let db: TestDatabase;
  let root: string;
  before(async () => {
    db = await createTestDatabase();
    root = await makeTempDir('lathe-generation-loop-');
    const model = await writeDecoderModel(join(root, 'tiny-chat-hf'), 'tiny', 5);
    await writeManifest(join(root, 'models'), 'tiny-chat', decoderManifest(model));
  });
  after(async () => {
    killSpawned();
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers /health/live with p99 under 50 ms while 16 streamed sequences decode', async (ctx) => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const run = spawnNode(MAIN, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      LOG_LEVEL: 'warn',
      LATHE_MODELS_DIR: join(root, 'models'),
      LATHE_MODELS_PRELOAD: 'tiny-chat',
    });
    await waitForStatus(`${base}/health/ready`, 200, 60_000);

    // One request first: the first one compiles the request schema's parser and the route's code.
    const warm = await fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-chat', prompt: [1, 2], max_tokens: 4, stream: true }),
    });
    assert.equal(warm.status, 200);
    await warm.text();
    // The 16 streaming clients read in a thread of their own, so the probes below measure the
    // server and not this process's event loop reading 16 streams.
    const clients = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const one = async (i) => {
        const res = await fetch(workerData.base + '/v1/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'tiny-chat', prompt: [i + 1, 7, 9], max_tokens: 250, temperature: 0.8, seed: i, ignore_eos: true, stream: true }),
        });
        const text = await res.text();
        return { status: res.status, events: text.split('\\n\\n').filter((e) => e.startsWith('data: {')).length, done: text.endsWith('data: [DONE]\\n\\n') };
      };
      // Each client sends three requests back to back: long enough for a few hundred probes, so that the
      // 99th percentile is a percentile and not the single slowest probe.
      const client = async (i) => [await one(i), await one(i + 16), await one(i + 32)];
      Promise.all(Array.from({ length: 16 }, (_, i) => client(i))).then((r) => parentPort.postMessage(r.flat()), (e) => parentPort.postMessage({ error: String(e) }));
      `,
      { eval: true, workerData: { base } },
    );
    let results: unknown;
    const finished = new Promise<void>((resolve) => clients.once('message', (m) => ((results = m), resolve())));
    let running = true;
    void finished.then(() => (running = false));
    const probes: number[] = [];
    while (running) {
      const started = performance.now();
      const res = await fetch(`${base}/health/live`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      if (running) probes.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
    await clients.terminate();
    const answers = results as Array<{ status: number; events: number; done: boolean }>;
    assert.ok(Array.isArray(answers), JSON.stringify(results));
    assert.deepEqual(
      answers.map((a) => [a.status, a.done]),
      Array(48).fill([200, true]),
    );
    const tokens = answers.reduce((n, a) => n + a.events, 0);
    const sorted = [...probes].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    ctx.diagnostic(
      `${probes.length} probes while 16 streams decoded (${tokens} text events): p50 ${sorted[sorted.length >> 1]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, slowest ${sorted.at(-1)!.toFixed(1)} ms`,
    );
    assert.ok(probes.length >= 100, `${probes.length} probes while the 16 sequences decoded`);
    assert.ok(p99 < 50, `p99 of /health/live while 16 sequences decode: ${p99} ms`);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  });
});

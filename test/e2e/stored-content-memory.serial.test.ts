import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ArtifactsRepository, TRAINER_STATE_MEDIA_TYPE } from '../../src/fine-tuning/artifacts/artifacts.repository.js';
import { startTestApp, type TestApp } from '../support/app.js';

// A full collection before each sample, so a sample counts what is held, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const held = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const MB = 1024 * 1024;

/** Downloads the artifact, hashing it as it arrives (nothing kept), and resolves its sha256. */
function download(port: number, id: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/v1/artifacts/${id}` }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        const hash = createHash('sha256');
        res.on('data', (c: Buffer) => hash.update(c));
        res.on('end', () => resolve(hash.digest('hex')));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * Serial: it measures this process's memory. Before artifacts were streamed, each download held
 * the whole value twice over (hex text, then bytes): four of these 64 MB downloads held > 512 MB.
 */
describe('stored content: memory while several large artifacts download', () => {
  let t: TestApp;
  let port: number;
  let id: string;
  let sha256: string;

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.server.address() as AddressInfo).port;
    const bytes = randomBytes(64 * MB);
    sha256 = createHash('sha256').update(bytes).digest('hex');
    id = (await t.app.get(ArtifactsRepository).insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, bytes, null)).id;
  });
  after(() => t.close());

  it('four concurrent 64 MB downloads hold less than 48 MB between them (default 1 MiB slices), byte-exact', async () => {
    assert.equal(await download(port, id), sha256, 'a first download, so pools and buffers are warm');
    const baseline = held();
    let peak = 0;
    let sampling = true;
    const sample = async () => {
      while (sampling) {
        peak = Math.max(peak, held() - baseline);
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const sampler = sample();
    const hashes = await Promise.all([1, 2, 3, 4].map(() => download(port, id)));
    sampling = false;
    await sampler;
    assert.deepEqual(hashes, [sha256, sha256, sha256, sha256]);
    assert.ok(peak < 48 * MB, `${(peak / MB).toFixed(1)} MB held at the peak`);
  });
});

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { ArtifactsRepository, type ArtifactRow, TRAINER_STATE_MEDIA_TYPE } from '../../src/fine-tuning/artifacts/artifacts.repository.js';
import { FilesRepository } from '../../src/fine-tuning/files/files.repository.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminQuery } from '../support/database.js';
import { type FileBody, jsonl, topicExamples, uploadFile } from '../support/fine-tuning.js';
import { waitFor } from '../support/processes.js';

const SLICE = 64 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const binary = (res: request.Response) => res.body as Buffer;
const asBuffer = (r: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  r.on('end', () => cb(null, Buffer.concat(chunks)));
};

/** Artifacts and files are read from Postgres in slices of LATHE_STORAGE_SLICE_BYTES and streamed. */
describe('stored content: sliced reads, streamed downloads', () => {
  let t: TestApp;
  let artifacts: ArtifactsRepository;
  /** Slices read from the artifacts table, counted by wrapping the repository's reader. */
  let sliceReads = 0;
  let lastStream: Readable | undefined;

  before(async () => {
    t = await startTestApp({ LATHE_STORAGE_SLICE_BYTES: String(SLICE) });
    await t.app.listen(0, '127.0.0.1');
    artifacts = t.app.get(ArtifactsRepository);
    const slice = artifacts.slice.bind(artifacts);
    artifacts.slice = (id, offset, length) => {
      sliceReads += 1;
      return slice(id, offset, length);
    };
    const stream = artifacts.stream.bind(artifacts);
    artifacts.stream = (row: ArtifactRow, start?: number, end?: number) => (lastStream = stream(row, start, end));
  });
  after(() => t.close());

  it('an artifact of many slices downloads byte-exact, with its size, sha256, digest and ETag', async () => {
    const bytes = randomBytes(16 * SLICE + 123);
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, bytes, null);
    sliceReads = 0;
    const res = await request(t.server).get(`/v1/artifacts/${row.id}`).buffer(true).parse(asBuffer);
    assert.equal(res.status, 200);
    assert.equal(sha256(binary(res)), sha256(bytes));
    assert.equal(binary(res).length, bytes.length);
    assert.equal(res.headers['content-length'], String(bytes.length));
    assert.equal(res.headers['content-type'], TRAINER_STATE_MEDIA_TYPE);
    assert.equal(res.headers['x-content-sha256'], sha256(bytes));
    assert.equal(res.headers.digest, `sha-256=${createHash('sha256').update(bytes).digest('base64')}`);
    assert.equal(res.headers.etag, `"${sha256(bytes)}"`);
    assert.equal(res.headers['content-disposition'], `attachment; filename="${row.id}.bin"`);
    assert.equal(sliceReads, 17, 'sixteen whole slices and the 123 bytes after them');
  });

  it('If-None-Match with the ETag: 304, no body, nothing read', async () => {
    const bytes = randomBytes(3 * SLICE);
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, bytes, null);
    sliceReads = 0;
    const res = await request(t.server)
      .get(`/v1/artifacts/${row.id}`)
      .set('if-none-match', `W/"other", "${sha256(bytes)}"`);
    assert.equal(res.status, 304);
    assert.equal(res.headers.etag, `"${sha256(bytes)}"`);
    assert.equal(res.text, '');
    assert.equal(sliceReads, 0);
    const changed = await request(t.server).get(`/v1/artifacts/${row.id}`).set('if-none-match', '"other"').buffer(true).parse(asBuffer);
    assert.equal(changed.status, 200);
    assert.ok(binary(changed).equals(bytes));
  });

  it('an interrupted download resumes with Range and If-Range: 206, reading only the slices it needs', async () => {
    const bytes = randomBytes(10 * SLICE + 7);
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, bytes, null);
    const cut = 4 * SLICE + 100;
    const head = await request(t.server)
      .get(`/v1/artifacts/${row.id}`)
      .set('range', `bytes=0-${cut - 1}`)
      .buffer(true)
      .parse(asBuffer);
    assert.equal(head.status, 206);
    assert.equal(head.headers['content-range'], `bytes 0-${cut - 1}/${bytes.length}`);
    assert.equal(head.headers['content-length'], String(cut));
    assert.equal(head.headers['accept-ranges'], 'bytes');
    sliceReads = 0;
    const rest = await request(t.server)
      .get(`/v1/artifacts/${row.id}`)
      .set('range', `bytes=${cut}-`)
      .set('if-range', head.headers.etag!)
      .buffer(true)
      .parse(asBuffer);
    assert.equal(rest.status, 206);
    assert.equal(rest.headers['content-range'], `bytes ${cut}-${bytes.length - 1}/${bytes.length}`);
    assert.equal(sliceReads, 6, `${bytes.length - cut} bytes from ${cut}: five whole slices and a short one`);
    assert.equal(sha256(Buffer.concat([binary(head), binary(rest)])), sha256(bytes));
    const stale = await request(t.server)
      .get(`/v1/artifacts/${row.id}`)
      .set('range', `bytes=${cut}-`)
      .set('if-range', '"another-version"')
      .buffer(true)
      .parse(asBuffer);
    assert.equal(stale.status, 200);
    assert.ok(binary(stale).equals(bytes));
  });

  it('HEAD: the headers of a download, and nothing read', async () => {
    const bytes = randomBytes(3 * SLICE);
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, bytes, null);
    sliceReads = 0;
    const res = await request(t.server).head(`/v1/artifacts/${row.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(bytes.length));
    assert.equal(res.headers.etag, `"${sha256(bytes)}"`);
    assert.equal(sliceReads, 0);
  });

  it('an empty artifact downloads as zero bytes', async () => {
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, Buffer.alloc(0), null);
    const res = await request(t.server).get(`/v1/artifacts/${row.id}`).buffer(true).parse(asBuffer);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '0');
    assert.equal(binary(res).length, 0);
  });

  /** GETs the artifact and pauses the response, then waits until the server stops reading slices. */
  const pausedDownload = async (id: string) => {
    sliceReads = 0;
    lastStream = undefined;
    const { port } = t.server.address() as AddressInfo;
    const req = http.get({ host: '127.0.0.1', port, path: `/v1/artifacts/${id}` });
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    assert.equal(res.statusCode, 200);
    res.pause();
    let seen = -1;
    await waitFor(
      async () => {
        const stable = sliceReads === seen && sliceReads > 0;
        seen = sliceReads;
        return stable ? true : undefined;
      },
      30_000,
      'reads to stop while the client is paused',
    );
    return { req, res, readsWhilePaused: sliceReads };
  };

  it('reads only as fast as the client takes the bytes, and stops reading when the client goes away', async () => {
    const total = 48 * 1024 * 1024;
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, randomBytes(total), null);
    const { req, readsWhilePaused } = await pausedDownload(row.id);
    assert.ok(readsWhilePaused * SLICE < total / 2, `${readsWhilePaused} of ${total / SLICE} slices read for a client that took nothing`);

    req.destroy();
    await waitFor(async () => (lastStream?.destroyed ? true : undefined), 10_000, 'the stream to be destroyed');
    const atDestroy = sliceReads;
    assert.ok(atDestroy <= readsWhilePaused + 1);
    // Another download of one slice: the aborted one reads nothing more meanwhile.
    const small = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, randomBytes(100), null);
    assert.equal((await request(t.server).get(`/v1/artifacts/${small.id}`).buffer(true).parse(asBuffer)).status, 200);
    assert.equal(sliceReads, atDestroy + 1);
  });

  it('an artifact deleted during its download ends the response early instead of sending wrong bytes', async () => {
    const total = 24 * 1024 * 1024;
    const row = await artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, randomBytes(total), null);
    const { res } = await pausedDownload(row.id);
    await adminQuery(t.db.url, `DELETE FROM artifacts WHERE id = $1`, [row.id]);
    let received = 0;
    res.on('data', (c: Buffer) => (received += c.length));
    res.on('error', () => undefined);
    await new Promise((resolve) => {
      res.on('close', resolve);
      res.resume();
    });
    assert.equal(res.complete, false);
    assert.ok(received < total, `${received} of ${total} bytes`);
  });

  it("a file's content streams byte-exact with its size and ETag, and a job reads it back whole", async () => {
    const content = jsonl(topicExamples(2000));
    assert.ok(content.length > 2 * SLICE, `${content.length} bytes: several slices`);
    const file = (await uploadFile(t.server, content)).body as FileBody;
    const res = await request(t.server).get(`/v1/files/${file.id}/content`).buffer(true).parse(asBuffer);
    assert.equal(res.status, 200);
    assert.ok(binary(res).equals(content));
    assert.equal(res.headers['content-type'], 'application/jsonl');
    assert.equal(res.headers['content-length'], String(content.length));
    assert.equal(res.headers['x-content-sha256'], sha256(content));
    assert.equal(res.headers.etag, `"${sha256(content)}"`);
    const cached = await request(t.server)
      .get(`/v1/files/${file.id}/content`)
      .set('if-none-match', `"${sha256(content)}"`);
    assert.equal(cached.status, 304);
    assert.equal(cached.text, '');
    const tail = await request(t.server).get(`/v1/files/${file.id}/content`).set('range', 'bytes=-10').buffer(true).parse(asBuffer);
    assert.equal(tail.status, 206);
    assert.ok(binary(tail).equals(content.subarray(-10)));
    const files = t.app.get(FilesRepository);
    const whole = await files.content((await files.find(file.id))!);
    assert.ok(whole!.equals(content));
  });

  it('a missing artifact or file: 404 with the whole error body', async () => {
    const artifact = await request(t.server).get('/v1/artifacts/artifact-missing');
    assert.equal(artifact.status, 404);
    assert.deepEqual(artifact.body.error, {
      code: 'NOT_FOUND',
      message: 'no artifact with id "artifact-missing"',
      type: 'invalid_request_error',
      param: null,
    });
    const file = await request(t.server).get('/v1/files/file-missing/content');
    assert.equal(file.status, 404);
    assert.deepEqual(file.body.error, {
      code: 'NOT_FOUND',
      message: 'no file with id "file-missing"',
      type: 'invalid_request_error',
      param: null,
    });
  });
});

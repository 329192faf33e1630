import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { adminQuery } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { type FileBody, jsonl, topicExamples, uploadFile } from '../support/fine-tuning.js';

describe('fine-tuning: files', () => {
  let t: TestApp;
  const count = async (table: string) => (await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('stores a JSONL dataset with its validation report, lists, reads, serves and deletes it', async () => {
    const lines = topicExamples(10);
    const content = jsonl(lines);
    const res = await uploadFile(t.server, content, 'topics.jsonl');
    assert.equal(res.status, 200, res.text);
    const file = res.body as FileBody;
    assert.match(file.id, /^file-[0-9a-f]{24}$/);
    assert.deepEqual(
      { ...file, id: undefined, created_at: undefined },
      {
        id: undefined,
        object: 'file',
        bytes: content.length,
        created_at: undefined,
        filename: 'topics.jsonl',
        purpose: 'fine-tune',
        status: 'processed',
        sha256: createHash('sha256').update(content).digest('hex'),
        line_count: 30,
        validation: {
          valid: true,
          task: 'classification',
          input_kind: 'text',
          lines: 30,
          examples: 30,
          error_count: 0,
          errors: [],
          warnings: file.validation.warnings,
          labels: { animals: 10, finance: 10, weather: 10 },
          classes: 3,
          target_dim: null,
          duplicates: file.validation.duplicates,
          imbalance: { majority: 'animals', majority_count: 10, minority: 'animals', minority_count: 10, ratio: 1 },
        },
      },
    );
    assert.ok(Math.abs((file.created_at as number) - Date.now() / 1000) < 60);

    const list = await request(t.server).get('/v1/files');
    assert.equal(list.status, 200);
    assert.equal(list.body.object, 'list');
    assert.equal(list.body.has_more, false);
    assert.deepEqual(
      list.body.data.map((f: FileBody) => f.id),
      [file.id],
    );
    assert.deepEqual((await request(t.server).get(`/v1/files/${file.id}`)).body, file);
    const raw = await request(t.server)
      .get(`/v1/files/${file.id}/content`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    assert.equal(raw.status, 200);
    assert.ok((raw.body as Buffer).equals(content));

    const del = await request(t.server).delete(`/v1/files/${file.id}`);
    assert.deepEqual(del.body, { id: file.id, object: 'file', deleted: true });
    assert.equal((await request(t.server).get(`/v1/files/${file.id}`)).status, 404);
    assert.equal((await request(t.server).delete(`/v1/files/${file.id}`)).status, 404);
  });

  it('pages with after and limit, newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(((await uploadFile(t.server, jsonl(topicExamples(2, i + 10)))).body as FileBody).id);
    const first = await request(t.server).get('/v1/files?limit=2');
    assert.deepEqual(
      first.body.data.map((f: FileBody) => f.id),
      [ids[2], ids[1]],
    );
    assert.equal(first.body.has_more, true);
    const second = await request(t.server).get(`/v1/files?limit=2&after=${ids[1]}`);
    assert.deepEqual(
      second.body.data.map((f: FileBody) => f.id),
      [ids[0]],
    );
    assert.equal(second.body.has_more, false);
    const asc = await request(t.server).get('/v1/files?order=asc&limit=1');
    assert.deepEqual(
      asc.body.data.map((f: FileBody) => f.id),
      [ids[0]],
    );
    for (const id of ids) await request(t.server).delete(`/v1/files/${id}`);
  });

  it('refuses a file that is not JSON Lines with the line errors, storing nothing', async () => {
    const before = await count('fine_tuning_files');
    const res = await uploadFile(t.server, Buffer.from('text,label\nthe cat sat,animals\n\nstocks fell,finance\n'), 'data.csv');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'DATASET_INVALID');
    assert.match(res.body.error.message, /^data\.csv is not JSON Lines: not valid JSON/);
    assert.equal(res.body.error.details.error_count, 3);
    assert.deepEqual(
      res.body.error.details.errors.map((e: { line: number }) => e.line),
      [1, 2, 4],
    );

    const binary = await uploadFile(t.server, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]), 'x.png');
    assert.equal(binary.status, 400);
    assert.equal(binary.body.error.code, 'DATASET_INVALID');
    assert.equal(await count('fine_tuning_files'), before);
  });

  it('reports bad lines by number: missing labels, bad JSON, unknown fields, media that does not decode, duplicates', async () => {
    const res = await uploadFile(
      t.server,
      jsonl([
        { text: 'the dog runs', label: 'animals' },
        { text: 'stocks fell' },
        '{"text": "broken',
        { text: 'the cat sleeps', label: 'animals', extra: 1 },
        { text: 'rain tomorrow', label: 'weather' },
        { image: Buffer.from('this is plain text, not a picture').toString('base64'), label: 'animals' },
        { text: 'the dog runs', label: 'finance' },
        { text: '', label: 'weather' },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    const file = res.body as FileBody;
    assert.equal(file.status, 'error');
    assert.equal(file.status_details, '6 problem(s), first: line 2: missing "label" (classification) or "target" (regression)');
    assert.deepEqual(file.validation.errors, [
      { line: 2, message: 'missing "label" (classification) or "target" (regression)' },
      { line: 3, message: `not valid JSON: ${jsonError('{"text": "broken')}` },
      { line: 4, message: 'unknown field "extra" (expected text, image or audio, and label or target)' },
      { line: 6, message: '"image" does not decode as an image: not PNG, JPEG, GIF, WebP, BMP, TIFF' },
      { line: 6, message: 'input is "image" but the file\'s inputs are "text"' },
      { line: 8, message: '"text" must be a non-empty string' },
    ]);
    assert.equal(file.validation.error_count, 6);
    assert.equal(file.validation.examples, 3);
    assert.deepEqual(file.validation.duplicates, { count: 1, conflicting: 1, lines: [{ line: 7, first_line: 1 }] });
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type FileBody, jsonl, topicExamples, uploadFile } from '../support/fine-tuning.js';

/** Ids that cannot exist: a NUL (Postgres text cannot hold it), other control bytes, the wrong kind, the wrong length. */
const BAD_IDS = ['%00', 'file-%00', 'ftjob-1a2b3c4d5e6f7a8b9c0d1e2f%00', '%01%7f', 'artifact-1a2b', '..%2F..%2Fetc'];

describe('ids that cannot exist, and NUL in strings that reach SQL', () => {
  let t: TestApp;
  let good: string;
  before(async () => {
    t = await startTestApp();
    good = ((await uploadFile(t.server, jsonl(topicExamples(10)))).body as FileBody).id;
  });
  after(() => t.close());

  const notFound = (res: request.Response, message: string) => {
    assert.equal(res.status, 404, `${message}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, {
      error: { code: 'NOT_FOUND', message, type: 'invalid_request_error', param: null },
      requestId: res.headers['x-request-id'],
    });
  };

  for (const raw of BAD_IDS) {
    const id = decodeURIComponent(raw);
    it(`${JSON.stringify(id)} in a path: 404 NOT_FOUND on every id route`, async () => {
      const s = t.server;
      notFound(await request(s).get(`/v1/files/${raw}`), `no file with id "${id}"`);
      notFound(await request(s).get(`/v1/files/${raw}/content`), `no file with id "${id}"`);
      notFound(await request(s).delete(`/v1/files/${raw}`), `no file with id "${id}"`);
      for (const tail of ['', '/events', '/events?stream=true', '/checkpoints', '/metrics']) {
        notFound(await request(s).get(`/v1/fine_tuning/jobs/${raw}${tail}`), `no fine-tuning job with id "${id}"`);
      }
      notFound(await request(s).post(`/v1/fine_tuning/jobs/${raw}/cancel`), `no fine-tuning job with id "${id}"`);
      notFound(await request(s).get(`/v1/artifacts/${raw}`), `no artifact with id "${id}"`);
    });
  }

  it('a bad `after` cursor: 400 VALIDATION_FAILED on every list', async () => {
    const job = 'ftjob-1a2b3c4d5e6f7a8b9c0d1e2f';
    for (const [path, kind] of [
      ['/v1/files', 'file'],
      ['/v1/fine_tuning/jobs', 'ftjob'],
      [`/v1/fine_tuning/jobs/${job}/events`, 'ftevent'],
      [`/v1/fine_tuning/jobs/${job}/checkpoints`, 'ftckpt'],
    ] as const) {
      const res = await request(t.server).get(`${path}?after=${kind}-%00`);
      assert.equal(res.status, 400, path);
      const problem = `must be an id of the form ${kind}-<24 hex digits>`;
      assert.deepEqual(
        res.body.error,
        {
          code: 'VALIDATION_FAILED',
          message: `invalid query: after: ${problem}`,
          type: 'invalid_request_error',
          param: 'after',
          details: [{ field: 'after', problems: [problem] }],
        },
        path,
      );
    }
  });

  it('training_file / validation_file that cannot exist: the same 404 as a missing file, naming the parameter', async () => {
    const post = (body: object) => request(t.server).post('/v1/fine_tuning/jobs').send(body);
    for (const [body, param] of [
      [{ model: 'glove-100d', training_file: 'file-\u0000' }, 'training_file'],
      [{ model: 'glove-100d', training_file: good, validation_file: '\u0000' }, 'validation_file'],
    ] as const) {
      const res = await post(body);
      assert.equal(res.status, 404, JSON.stringify(res.body));
      const id = (body as Record<string, string>)[param];
      assert.deepEqual(res.body.error, {
        code: 'NOT_FOUND',
        message: `${param}: no file with id "${id}"`,
        type: 'invalid_request_error',
        param,
        details: { param },
      });
    }
  });

  it('NUL in metadata, in a metadata filter, in a purpose filter: 400 VALIDATION_FAILED', async () => {
    const problem = 'must not contain U+0000 (NUL)';
    const meta = await request(t.server)
      .post('/v1/fine_tuning/jobs')
      .send({ model: 'glove-100d', training_file: good, metadata: { team: 'a\u0000b' } });
    assert.equal(meta.status, 400);
    assert.deepEqual(meta.body.error.details, [{ field: 'metadata.team', problems: [problem] }]);
    const filter = await request(t.server).get('/v1/fine_tuning/jobs?metadata[team]=%00');
    assert.equal(filter.status, 400);
    assert.deepEqual(filter.body.error.details, [{ field: 'metadata.team', problems: [problem] }]);
    const purpose = await request(t.server).get('/v1/files?purpose=%00');
    assert.equal(purpose.status, 400);
    assert.deepEqual(purpose.body.error.details, [{ field: 'purpose', problems: [problem] }]);
  });

  it('NUL in an uploaded file name or dataset: 400, nothing stored', async () => {
    const name = await uploadFile(t.server, jsonl(topicExamples(10)), 'a\u0000.jsonl');
    assert.equal(name.status, 400);
    assert.deepEqual(name.body.error, {
      code: 'VALIDATION_FAILED',
      message: 'the file name must not contain control characters',
      type: 'invalid_request_error',
      param: 'file',
      details: [{ field: 'file', problems: ['control characters in the file name'] }],
    });
    const data = await uploadFile(t.server, jsonl([...topicExamples(10), { text: 'x', label: 'a\u0000' }]));
    assert.equal(data.status, 200, JSON.stringify(data.body));
    assert.equal(data.body.status, 'error');
    assert.deepEqual(data.body.validation.errors, [{ line: 31, message: 'a key or a string holds U+0000 (NUL)' }]);
  });

  it('NUL in a model name: 404 MODEL_NOT_FOUND on the model routes', async () => {
    for (const [method, path] of [
      ['get', '/v1/models/%00'],
      ['get', '/v1/models/ft:glove-100d:x:%00'],
    ] as const) {
      const res = await request(t.server)[method](path);
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'MODEL_NOT_FOUND');
    }
    for (const path of ['/v2/models/%00', '/v2/models/%00/ready', '/v2/models/%00/stats', '/v2/models/%00/versions/1']) {
      const res = await request(t.server).get(path);
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
    }
    for (const path of ['/v2/models/%00/infer', '/v2/repository/models/%00/load', '/v2/repository/models/%00/unload']) {
      const res = await request(t.server).post(path).send({ inputs: [] });
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
    }
    const classify = await request(t.server)
      .post('/v1/text/classify')
      .send({ model: 'ft:glove-100d:x:\u0000', inputs: ['a'] });
    assert.equal(classify.status, 404, JSON.stringify(classify.body));
    const job = await request(t.server).post('/v1/fine_tuning/jobs').send({ model: 'glove\u0000', training_file: good });
    assert.equal(job.status, 400, JSON.stringify(job.body));
  });
});

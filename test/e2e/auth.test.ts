import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { hashApiKey } from '../../src/config/api-keys.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { listenOnFreePort, parseRawResponse, rawExchange } from '../support/raw-http.js';

const KEYS = `reader:${hashApiKey('reader-key')}:infer,ops:${hashApiKey('ops-key')}:manage+train,root:${hashApiKey('root-key')}:admin`;

describe('API keys (configured)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ LATHE_API_KEYS: KEYS });
  });
  after(() => t.close());

  const body = (res: request.Response) => ({ ...res.body, requestId: '<id>' });

  it('answers a request without a key with 401 MISSING_API_KEY and a Bearer challenge', async () => {
    const res = await request(t.server).get('/v1/auth/whoami');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(body(res), {
      error: {
        code: 'MISSING_API_KEY',
        message: 'Send an API key as "Authorization: Bearer <key>"',
        type: 'authentication_error',
        param: null,
      },
      requestId: '<id>',
    });
  });

  it('answers an unknown key, or a non-Bearer scheme, with 401', async () => {
    const res = await request(t.server).get('/v1/auth/whoami').set('authorization', 'Bearer not-a-key');
    assert.equal(res.status, 401);
    assert.deepEqual(body(res), {
      error: { code: 'INVALID_API_KEY', message: 'The API key is not valid', type: 'authentication_error', param: null },
      requestId: '<id>',
    });
    const basic = await request(t.server).get('/v1/auth/whoami').set('authorization', 'Basic cmVhZGVyLWtleQ==');
    assert.equal(basic.status, 401);
    assert.equal(basic.body.error.code, 'MISSING_API_KEY');
  });

  it('answers a key without the route scope with 403 INSUFFICIENT_SCOPE', async () => {
    const res = await request(t.server).get('/v1/instances').set('authorization', 'Bearer ops-key');
    assert.equal(res.status, 403);
    assert.deepEqual(body(res), {
      error: {
        code: 'INSUFFICIENT_SCOPE',
        message: 'The API key "ops" lacks the "admin" scope',
        type: 'permission_error',
        param: null,
        details: { required: 'admin', granted: ['manage', 'train'] },
      },
      requestId: '<id>',
    });
    const reader = await request(t.server).post('/test/echo').set('authorization', 'Bearer reader-key').send({ name: 'a', count: 1 });
    assert.equal(reader.status, 403);
    assert.equal(reader.body.error.message, 'The API key "reader" lacks the "manage" scope');
  });

  it('deleting a model needs the train scope (admin holds it)', async () => {
    const name = encodeURIComponent('ft:glove-100d:x:ftjob-000000000000000000000000');
    const reader = await request(t.server).delete(`/v1/models/${name}`).set('authorization', 'Bearer reader-key');
    assert.deepEqual([reader.status, reader.body.error.message], [403, 'The API key "reader" lacks the "train" scope']);
    for (const key of ['ops-key', 'root-key']) {
      const res = await request(t.server).delete(`/v1/models/${name}`).set('authorization', `Bearer ${key}`);
      assert.deepEqual([res.status, res.body.error.code], [404, 'MODEL_NOT_FOUND'], key);
    }
  });

  it('lets a key with the scope through, and admin everywhere', async () => {
    const ops = await request(t.server).post('/test/echo').set('authorization', 'bearer ops-key').send({ name: 'a', count: 1 });
    assert.equal(ops.status, 201);
    const who = await request(t.server).get('/v1/auth/whoami').set('authorization', 'Bearer reader-key');
    assert.deepEqual(who.body, { name: 'reader', scopes: ['infer'], open: false });
    const root = await request(t.server).get('/v1/instances').set('authorization', 'Bearer root-key');
    assert.equal(root.status, 200);
    assert.equal(root.body.data.length, 1);
  });

  it('answers 401 before reading any of the body: 50 MB announced, a few bytes sent', async () => {
    const port = await listenOnFreePort(t.server);
    for (const [authorization, status, code] of [
      ['', 401, 'MISSING_API_KEY'],
      ['authorization: Bearer not-a-key\r\n', 401, 'INVALID_API_KEY'],
      ['authorization: Bearer ops-key\r\n', 403, 'INSUFFICIENT_SCOPE'],
    ] as const) {
      const head = `POST /v1/embeddings HTTP/1.1\r\nhost: x\r\n${authorization}content-type: application/json\r\ncontent-length: ${50 * 1024 * 1024}\r\n\r\n[1,2,`;
      // The body never comes: only an answer given before the body is read can arrive.
      const exchange = await rawExchange(port, head, { deadlineMs: 10_000 });
      assert.equal(exchange.closed, true, `${code}: the server closes the connection instead of draining 50 MB`);
      const res = parseRawResponse(exchange.text);
      assert.equal(res.status, status, exchange.text);
      assert.equal((res.body as { error: { code: string } }).error.code, code);
      assert.equal(res.headers.connection, 'close');
    }
  });

  it('answers a malformed body without a key with 401, not with what is wrong with the body', async () => {
    const res = await request(t.server).post('/test/echo').set('content-type', 'application/json').send('{"name": ');
    assert.equal(res.status, 401);
    assert.deepEqual(body(res), {
      error: {
        code: 'MISSING_API_KEY',
        message: 'Send an API key as "Authorization: Bearer <key>"',
        type: 'authentication_error',
        param: null,
      },
      requestId: '<id>',
    });
  });

  it('needs no key for health, metrics and docs', async () => {
    for (const path of ['/health/live', '/health/ready', '/metrics', '/docs', '/docs-json']) {
      const res = await request(t.server).get(path);
      assert.equal(res.status, 200, path);
    }
  });
});

describe('API keys (none configured)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('runs open and says so', async () => {
    const res = await request(t.server).get('/v1/auth/whoami');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { name: null, scopes: ['infer', 'manage', 'train', 'admin'], open: true });
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { startTestApp, type TestApp } from '../support/app.js';

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
      error: { code: 'MISSING_API_KEY', message: 'Send an API key as "Authorization: Bearer <key>"' },
      requestId: '<id>',
    });
  });

  it('answers an unknown key, or a non-Bearer scheme, with 401', async () => {
    const res = await request(t.server).get('/v1/auth/whoami').set('authorization', 'Bearer not-a-key');
    assert.equal(res.status, 401);
    assert.deepEqual(body(res), { error: { code: 'INVALID_API_KEY', message: 'The API key is not valid' }, requestId: '<id>' });
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
        details: { required: 'admin', granted: ['manage', 'train'] },
      },
      requestId: '<id>',
    });
    const reader = await request(t.server).post('/test/echo').set('authorization', 'Bearer reader-key').send({ name: 'a', count: 1 });
    assert.equal(reader.status, 403);
    assert.equal(reader.body.error.message, 'The API key "reader" lacks the "manage" scope');
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

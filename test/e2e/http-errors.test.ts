import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('HTTP errors (real app, exact bodies)', () => {
  let t: TestApp;
  const logLines: string[] = [];
  before(async () => {
    t = await startTestApp({ LATHE_BODY_LIMIT_BYTES: '1024' }, { logLines });
  });
  after(() => t.close());

  /** Every error body carries the request id that the response header echoes. */
  function expectError(res: request.Response, status: number, code: string, message: string, details?: unknown) {
    assert.equal(res.status, status);
    const requestId = res.headers['x-request-id'];
    assert.match(requestId, UUID);
    const field = Array.isArray(details) ? (details[0] as { field: string }).field : null;
    const type = status >= 500 ? 'server_error' : 'invalid_request_error';
    const error: Record<string, unknown> = { code, message, type, param: field?.startsWith('(') ? null : field };
    if (details !== undefined) error.details = details;
    assert.deepEqual(res.body, { error, requestId });
  }

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await request(t.server).post('/test/echo').set('content-type', 'application/json').send('{"name": "a",');
    expectError(res, 400, 'MALFORMED_JSON', 'Body is not valid JSON');
  });

  it('answers a JSON body that is not UTF-8 with 400 INVALID_UTF8', async () => {
    const body = Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc3, 0x28]), Buffer.from('", "count": 1}')]);
    const res = await request(t.server)
      .post('/test/echo')
      .set('content-type', 'application/json')
      .serialize((raw: Buffer) => raw as never)
      .send(body);
    expectError(res, 400, 'INVALID_UTF8', 'Body is not valid UTF-8');
  });

  it('answers an empty JSON body with 400 EMPTY_BODY', async () => {
    const res = await request(t.server).post('/test/echo').set('content-type', 'application/json').send('');
    expectError(res, 400, 'EMPTY_BODY', 'Body is empty but Content-Type is application/json');
  });

  it('answers a wrong content type with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const type of ['application/xml', 'text/plain']) {
      const res = await request(t.server).post('/test/echo').set('content-type', type).send('<name>a</name>');
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Unsupported Media Type: ${type} is not accepted here`);
    }
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await request(t.server)
      .post('/test/echo')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(2000), count: 1 }));
    expectError(res, 413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');
  });

  it('answers an unknown route with 404 ROUTE_NOT_FOUND', async () => {
    const res = await request(t.server).get('/no/such/route?x=1');
    expectError(res, 404, 'ROUTE_NOT_FOUND', 'Cannot GET /no/such/route?x=1');
  });

  it('answers a body that fails validation with 400 VALIDATION_FAILED and the fields', async () => {
    const res = await request(t.server).post('/test/echo').send({ name: 7, count: 0, extra: true });
    expectError(res, 400, 'VALIDATION_FAILED', 'Request validation failed', [
      { field: 'name', problems: ['Invalid input: expected string, received number'] },
      { field: 'count', problems: ['Too small: expected number to be >=1'] },
      { field: 'extra', problems: ['Unrecognized key: "extra"'] },
    ]);
  });

  it('answers an unknown error with 500 INTERNAL and leaks nothing', async () => {
    const res = await request(t.server).get('/test/boom').set('x-request-id', 'boom-1');
    assert.equal(res.status, 500);
    assert.equal(res.body.error.code, 'INTERNAL');
    assert.doesNotMatch(res.text, /hunter2|secret|at |\.js/);
    // The cause is logged once, under the request's id, through the request's logger.
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.requestId === 'boom-1');
    const errors = lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 1, JSON.stringify(lines));
    assert.equal(errors[0]!.msg, 'Unhandled error on GET /test/boom');
    assert.equal(errors[0]!.context, 'Errors');
    assert.match(String(errors[0]!.stack), /^Error: secret internal detail/);
    assert.deepEqual(
      lines.filter((l) => l.msg === 'request completed').map((l) => l.statusCode),
      [500],
    );
    const fresh = await request(t.server).get('/test/boom');
    expectError(fresh, 500, 'INTERNAL', 'Internal server error');
  });

  it('accepts a valid body', async () => {
    const res = await request(t.server).post('/test/echo').send({ name: 'ok', count: 2 });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { name: 'ok', count: 2 });
  });

  it('echoes a sane x-request-id and replaces an unsafe one', async () => {
    const kept = await request(t.server).get('/nope').set('x-request-id', 'lb-7f3a.42');
    assert.equal(kept.headers['x-request-id'], 'lb-7f3a.42');
    assert.equal(kept.body.requestId, 'lb-7f3a.42');
    const replaced = await request(t.server).get('/nope').set('x-request-id', 'bad id with spaces');
    assert.match(replaced.headers['x-request-id'], UUID);
  });

  it('answers Open Inference Protocol paths in the OIP error shape', async () => {
    const res = await request(t.server).get('/v2/models/nope/versions/x/unknown');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'Cannot GET /v2/models/nope/versions/x/unknown' });
  });

  it('answers a path that is not valid percent-encoded UTF-8 with 400 VALIDATION_FAILED, and /v2 in its shape', async () => {
    for (const path of ['/v1/files/%zz', '/v1/fine_tuning/jobs/%C3%28', '/v1/models/%']) {
      expectError(await request(t.server).get(path), 400, 'VALIDATION_FAILED', 'The URL path is not valid percent-encoded UTF-8');
    }
    const oip = await request(t.server).get('/v2/models/%FF%FE/ready');
    assert.equal(oip.status, 400);
    assert.deepEqual(oip.body, { error: 'The URL path is not valid percent-encoded UTF-8' });
  });

  it('routes path parameters up to 512 characters, and refuses longer ones with 400 VALIDATION_FAILED', async () => {
    const long = `ft:glove-100d:${'s'.repeat(64)}:ftjob-${'0'.repeat(24)}`.padEnd(512, 'x');
    expectError(await request(t.server).get(`/v1/models/${long}`), 404, 'MODEL_NOT_FOUND', `model "${long}" is not in the repository`);
    expectError(
      await request(t.server).get(`/v1/models/${long}y`),
      400,
      'VALIDATION_FAILED',
      'A path parameter is longer than 512 characters',
    );
    const oip = await request(t.server).get(`/v2/models/${long}y`);
    assert.equal(oip.status, 400);
    assert.deepEqual(oip.body, { error: 'A path parameter is longer than 512 characters' });
  });

  it('answers requests that Node cannot parse with a coded body on the socket, then closes it', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.server.address() as AddressInfo;
    const send = (bytes: string) =>
      new Promise<{ status: number; headers: string; body: unknown }>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        socket.on('data', (c) => chunks.push(c)).on('error', reject);
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('latin1');
          const [head, body] = text.split('\r\n\r\n');
          resolve({ status: Number(head!.split(' ')[1]), headers: head!, body: JSON.parse(body!) });
        });
        socket.end(bytes, 'latin1');
      });
    const coded = (answer: { headers: string; body: unknown }, code: string, message: string) => {
      const requestId = /\r\nx-request-id: (\S+)/.exec(answer.headers)?.[1];
      assert.match(requestId!, UUID);
      assert.match(answer.headers, /\r\nContent-Type: application\/json; charset=utf-8\r\n/);
      assert.deepEqual(answer.body, { error: { code, message, type: 'invalid_request_error', param: null }, requestId });
    };
    const garbage = await send('GARBAGE\r\n\r\n');
    assert.equal(garbage.status, 400);
    coded(garbage, 'MALFORMED_REQUEST', 'Malformed HTTP request');
    const cut = await send('POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"name":');
    assert.equal(cut.status, 400);
    coded(cut, 'MALFORMED_REQUEST', 'Malformed HTTP request');
    const big = await send(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(big.status, 431);
    coded(big, 'HEADERS_TOO_LARGE', 'Request headers are too large');
    const oip = await send('POST /v2/models/x/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    assert.equal(oip.status, 400);
    assert.deepEqual(oip.body, { error: 'Malformed HTTP request' });
  });

  it('sets security headers and no CORS headers by default', async () => {
    const res = await request(t.server).get('/health/live').set('origin', 'https://elsewhere.example');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS when configured', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ LATHE_CORS_ORIGINS: 'https://ui.example' });
  });
  after(() => t.close());

  it('allows the configured origin only', async () => {
    const ok = await request(t.server).get('/health/live').set('origin', 'https://ui.example');
    assert.equal(ok.headers['access-control-allow-origin'], 'https://ui.example');
    const other = await request(t.server).get('/health/live').set('origin', 'https://evil.example');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });
});

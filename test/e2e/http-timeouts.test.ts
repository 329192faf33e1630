import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { hashApiKey } from '../../src/config/api-keys.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { connect } from 'node:net';
import { jsonl, uploadFile } from '../support/fine-tuning.js';
import { listenOnFreePort, parseRawResponse, rawExchange } from '../support/raw-http.js';

/** Lathe's coded 408, written on the socket by the client-error handler; its request id is a new UUID. */
function assertTimeoutBody(received: unknown): void {
  const body = received as { requestId?: unknown };
  assert.deepEqual(body, {
    error: { code: 'REQUEST_TIMEOUT', message: 'The request was not received in time', type: 'invalid_request_error', param: null },
    requestId: body.requestId,
  });
  assert.match(String(body.requestId), /^[0-9a-f-]{36}$/);
}

describe('HTTP timeouts (short ones configured)', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp({
      LATHE_HTTP_HEADERS_TIMEOUT_MS: '400',
      LATHE_HTTP_REQUEST_TIMEOUT_MS: '800',
      LATHE_HTTP_KEEP_ALIVE_TIMEOUT_MS: '300',
      LATHE_HTTP_IDLE_TIMEOUT_MS: '1000',
    });
    port = await listenOnFreePort(t.server);
  });
  after(() => t.close());

  it('answers partial headers with 408 and closes the connection', async () => {
    const exchange = await rawExchange(port, 'GET /health/live HTTP/1.1\r\nhost: x\r\nx-slow: ', { deadlineMs: 5000 });
    assert.equal(exchange.closed, true);
    assert.ok(exchange.ms < 3000, `closed after ${exchange.ms} ms`);
    const res = parseRawResponse(exchange.text);
    assert.equal(res.status, 408);
    assertTimeoutBody(res.body);
  });

  it('answers headers trickled a byte at a time with 408, though bytes keep coming', async () => {
    const exchange = await rawExchange(port, 'GET /health/live HTTP/1.1\r\nhost: x\r\nx-slow: ', {
      deadlineMs: 5000,
      trickle: { everyMs: 50, data: 'a' },
    });
    assert.equal(exchange.closed, true);
    assert.ok(exchange.ms < 3000, `closed after ${exchange.ms} ms`);
    assert.equal(parseRawResponse(exchange.text).status, 408);
  });

  it('closes a chunked body that never ends', async () => {
    const head = 'POST /test/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n[\r\n';
    const exchange = await rawExchange(port, head, { deadlineMs: 5000, trickle: { everyMs: 50, data: '1\r\n \r\n' } });
    assert.equal(exchange.closed, true);
    assert.ok(exchange.ms < 3000, `closed after ${exchange.ms} ms`);
    const res = parseRawResponse(exchange.text);
    assert.equal(res.status, 408);
    assertTimeoutBody(res.body);
  });

  it('closes an idle keep-alive connection', async () => {
    const exchange = await rawExchange(port, 'GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n', { deadlineMs: 5000 });
    assert.equal(exchange.closed, true);
    assert.equal(parseRawResponse(exchange.text).status, 200);
    assert.ok(exchange.ms < 3000, `closed after ${exchange.ms} ms`);
  });

  it('closes a connection whose client stops reading a large response', async () => {
    // 24 MB: far more than the socket buffers on both sides hold, so bytes stay queued in the server.
    const lines = Array.from({ length: 120_000 }, (_, i) => ({ text: `example ${i} ${'x'.repeat(160)}`, label: i % 2 ? 'a' : 'b' }));
    const uploaded = await uploadFile(t.server, jsonl(lines));
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body).slice(0, 300));
    const connections = () =>
      new Promise<number>((resolve, reject) => t.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const socket = connect(port, '127.0.0.1');
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`GET /v1/files/${uploaded.body.id}/content HTTP/1.1\r\nhost: x\r\n\r\n`);
      // Read the first bytes, then never again.
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.pause();
      assert.equal(await connections(), 1);
      const deadline = Date.now() + 5000;
      while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await connections(), 0, 'the stalled connection was closed');
    } finally {
      socket.destroy();
    }
  });

  it('never cuts a response the server is still computing, however long past every timeout', async () => {
    const res = await request(t.server).get('/test/slow?ms=1500');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { sleptMs: 1500 });
  });
});

describe('routes that declare no auth rule', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ LATHE_API_KEYS: `root:${hashApiKey('root-key')}:admin` });
  });
  after(() => t.close());

  it('stay closed (500 INTERNAL) even with a valid key, instead of being open', async () => {
    const res = await request(t.server).get('/test/undeclared').set('authorization', 'Bearer root-key');
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, {
      error: { code: 'INTERNAL', message: 'Internal server error', type: 'server_error', param: null },
      requestId: res.headers['x-request-id'],
    });
  });
});

import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';

describe('health, metrics and instances', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('reports live and ready with the database check', async () => {
    const live = await request(t.server).get('/health/live');
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'ok' });
    // Helmet's headers, on every reply (an error reply included), worked out once at start-up.
    const securityHeaders = {
      'content-security-policy':
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;" +
        "object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    };
    const missing = await request(t.server).get('/v2/models/no-such-model');
    assert.equal(missing.status, 404);
    for (const res of [live, missing]) {
      for (const [name, value] of Object.entries(securityHeaders)) assert.equal(res.headers[name], value, name);
      assert.equal(res.headers['x-powered-by'], undefined);
    }
    const ready = await request(t.server).get('/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', draining: false, checks: { database: { status: 'up' }, models: { status: 'up' } } });
  });

  it('counts requests by route template and status, with durations, event-loop lag and process metrics', async () => {
    await request(t.server).get('/health/live');
    await request(t.server).get('/no/such/thing/123');
    await request(t.server).get('/no/such/thing/456');
    const res = await request(t.server).get('/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const text = res.text;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    assert.ok(value('lathe_http_requests_total{method="GET",route="/health/live",status_code="200"}')! >= 1);
    assert.equal(value('lathe_http_requests_total{method="GET",route="unmatched",status_code="404"}'), 2);
    assert.equal(value('lathe_http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"}'), 2);
    assert.equal(value('lathe_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="unmatched",status_code="404"}'), 2);
    assert.ok(!text.includes('/no/such/thing'), 'raw URLs must not become labels');
    for (const metric of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
    ]) {
      assert.ok(value(metric) !== undefined, `${metric} missing`);
    }
    assert.equal(value('lathe_http_requests_in_flight'), 1);
  });

  it('lists this instance as running, marked self', async () => {
    const res = await request(t.server).get('/v1/instances');
    assert.equal(res.status, 200);
    assert.equal(res.body.object, 'list');
    assert.equal(res.body.data.length, 1);
    const [me] = res.body.data;
    assert.equal(me.hostname, hostname());
    assert.equal(me.pid, process.pid);
    assert.equal(me.state, 'running');
    assert.equal(me.self, true);
    assert.equal(me.stoppedAt, null);
  });
});

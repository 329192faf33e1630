import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { writeBertFixtures } from '../support/hf-fixtures.js';
import { makeModelRepository } from '../support/models.js';
import { makeTempDir } from '../support/processes.js';

const CLIENTS = 16;
const PER_CLIENT = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROUTE = '{method="POST",route="/v1/embeddings",status_code="%s"}';

/** What each load request is; every tenth is refused, alternately as an empty input (400) and an unknown model (404). */
type Kind = 'glove' | 'bert' | 'empty' | 'unknown';
const kindOf = (i: number): Kind => (i % 10 === 3 ? (i % 20 === 3 ? 'empty' : 'unknown') : i % 4 < 2 ? 'glove' : 'bert');
const STATUS: Record<Kind, number> = { glove: 200, bert: 200, empty: 400, unknown: 404 };
const bodyFor = (kind: Kind, text: string): object =>
  ({
    glove: { model: 'glove-100d', input: text },
    bert: { model: 'bert-mini', input: text },
    empty: { model: 'glove-100d', input: [] },
    unknown: { model: 'no-such-model', input: text },
  })[kind];

const ERRORS = {
  empty: {
    code: 'VALIDATION_FAILED',
    message: 'input is an empty list',
    type: 'invalid_request_error',
    param: 'input',
    details: [{ field: 'input', problems: ['input is an empty list'] }],
  },
  unknown: {
    code: 'MODEL_NOT_FOUND',
    message: 'model "no-such-model" is not in the repository',
    type: 'invalid_request_error',
    param: null,
  },
};

interface Reply {
  status: number;
  requestId: string | undefined;
  body: Record<string, unknown>;
  /** The request went over a connection an earlier request of the same agent opened. */
  reused: boolean;
}

/** One POST /v1/embeddings over the agent's connection; `requestId` undefined sends no x-request-id. */
function post(agent: Agent, port: number, body: object, requestId?: string): Promise<Reply> {
  const payload = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/embeddings', method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const id = res.headers['x-request-id'];
        resolve({
          status: res.statusCode!,
          requestId: typeof id === 'string' ? id : undefined,
          body: JSON.parse(text),
          reused: req.reusedSocket,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface Sent {
  id: string;
  kind: Kind;
  reply: Reply;
}

interface AccessLine {
  requestId: string;
  method: string;
  url: string;
  statusCode: number;
  ms: unknown;
}

describe('observability under concurrent load: every request logged, counted and identified', () => {
  let root: string;
  let modelsDir: string;
  let t: TestApp;
  let port: number;
  const logLines: string[] = [];

  const accessLines = (): AccessLine[] =>
    logLines.map((l) => JSON.parse(l) as AccessLine & { msg: string }).filter((l) => l.msg === 'request completed');

  /** Every sample of /metrics by its series, labels included. */
  const scrape = async (): Promise<Map<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    const samples = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      const m = /^(\S+) (\S+)$/.exec(line);
      if (m) samples.set(m[1]!, Number(m[2]));
    }
    return samples;
  };

  /** Polls until the access log holds `count` lines whose id starts with `prefix`; the hook logs after the reply is sent. */
  const waitForAccessLines = async (prefix: string, count: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (accessLines().filter((l) => l.requestId.startsWith(prefix)).length < count) {
      assert.ok(Date.now() < deadline, `fewer than ${count} access lines for ${prefix}* after 10 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  before(async () => {
    root = await makeTempDir('lathe-obs-load-');
    const fx = await writeBertFixtures(root);
    modelsDir = await makeModelRepository(['glove-100d'], {
      'bert-mini': {
        task: 'feature-extraction',
        source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
        inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, datatype: 'INT64', shape: [-1] })),
        outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, 32] }],
        maxBatchSize: 8,
        dynamicBatching: { maxQueueDelayMicroseconds: 2000 },
        instances: 1,
        parameters: { pooling: 'mean', normalize: true },
      },
    });
    t = await startTestApp({ LATHE_MODELS_DIR: modelsDir }, { logLines });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });
  after(async () => {
    await t?.close();
    await rm(modelsDir, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  });

  /** One request of each kind, so every series exists and the load adds to non-zero counts. */
  const warmUp = async (): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const kind of ['glove', 'bert', 'empty', 'unknown'] as const) {
        const reply = await post(agent, port, bodyFor(kind, 'warm up'), `warm-${kind}`);
        assert.equal(reply.status, STATUS[kind], `${kind}: ${JSON.stringify(reply.body)}`);
      }
    } finally {
      agent.destroy();
    }
    await waitForAccessLines('warm-', 4);
  };

  /** CLIENTS keep-alive connections at once, each sending its PER_CLIENT requests back to back. */
  const runLoad = async (): Promise<Sent[]> => {
    const agents = Array.from({ length: CLIENTS }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      const perClient = await Promise.all(
        agents.map(async (agent, c) => {
          const mine: Sent[] = [];
          for (let n = 0; n < PER_CLIENT; n += 1) {
            const id = `load-${c}-${n}`;
            const kind = kindOf(c * PER_CLIENT + n);
            mine.push({ id, kind, reply: await post(agent, port, bodyFor(kind, `client ${c} request ${n}`), id) });
          }
          return mine;
        }),
      );
      return perClient.flat();
    } finally {
      for (const agent of agents) agent.destroy();
    }
  };

  describe(`${CLIENTS} keep-alive clients x ${PER_CLIENT} requests, a tenth of them refused`, () => {
    let sent: Sent[];
    let metricsBefore: Map<string, number>;
    let metricsAfter: Map<string, number>;
    before(async () => {
      await warmUp();
      metricsBefore = await scrape();
      const started = Date.now();
      sent = await runLoad();
      const elapsedMs = Date.now() - started;
      await waitForAccessLines('load-', CLIENTS * PER_CLIENT);
      metricsAfter = await scrape();
      process.stdout.write(`${sent.length} requests over ${CLIENTS} connections in ${elapsedMs} ms\n`);
    });

    it('sends the intended mix over one connection per client', () => {
      const counts = { glove: 0, bert: 0, empty: 0, unknown: 0 };
      for (const { kind } of sent) counts[kind] += 1;
      assert.deepEqual(counts, { glove: 180, bert: 180, empty: 20, unknown: 20 });
      assert.equal(new Set(sent.map((s) => s.id)).size, CLIENTS * PER_CLIENT);
      // Keep-alive held: each client opened one connection and sent the rest of its requests over it.
      assert.equal(sent.filter((s) => !s.reply.reused).length, CLIENTS);
    });

    it('every reply has its own status and x-request-id; every error body names that id', () => {
      for (const { id, kind, reply } of sent) {
        assert.equal(reply.status, STATUS[kind], `${id} (${kind}): ${JSON.stringify(reply.body)}`);
        assert.equal(reply.requestId, id, `${id} came back with x-request-id ${reply.requestId}`);
        if (kind === 'glove' || kind === 'bert') {
          const data = reply.body.data as Array<{ embedding: number[] }>;
          assert.equal(reply.body.model, kind === 'glove' ? 'glove-100d' : 'bert-mini');
          assert.equal(data[0]!.embedding.length, kind === 'glove' ? 100 : 32);
        } else {
          assert.deepEqual(reply.body, { error: ERRORS[kind], requestId: id }, id);
        }
      }
    });

    it('the access log has exactly one line per request id, with its method, url, status and duration', () => {
      const lines = accessLines().filter((l) => l.requestId.startsWith('load-'));
      // As many lines as requests, and every id among them: so exactly one line each.
      assert.equal(lines.length, CLIENTS * PER_CLIENT);
      const byId = new Map(lines.map((l) => [l.requestId, l]));
      assert.deepEqual([...byId.keys()].sort(), sent.map((s) => s.id).sort());
      for (const { id, kind } of sent) {
        const line = byId.get(id)!;
        assert.deepEqual(
          { method: line.method, url: line.url, statusCode: line.statusCode },
          { method: 'POST', url: '/v1/embeddings', statusCode: STATUS[kind] },
          id,
        );
        assert.ok(typeof line.ms === 'number' && Number.isFinite(line.ms) && line.ms >= 0, `${id}: ms ${String(line.ms)}`);
      }
    });

    it('the request counter and duration histogram grew by exactly the requests sent, per status', () => {
      const delta = (series: string) => (metricsAfter.get(series) ?? 0) - (metricsBefore.get(series) ?? 0);
      for (const [status, count, warm] of [
        ['200', 360, 2],
        ['400', 20, 1],
        ['404', 20, 1],
      ] as const) {
        const labels = ROUTE.replace('%s', status);
        assert.equal(metricsBefore.get(`lathe_http_requests_total${labels}`), warm, `before, ${status}`);
        assert.equal(delta(`lathe_http_requests_total${labels}`), count, `requests_total ${status}`);
        assert.equal(delta(`lathe_http_request_duration_seconds_count${labels}`), count, `duration _count ${status}`);
        const inf = `lathe_http_request_duration_seconds_bucket{le="+Inf",${labels.slice(1)}`;
        assert.equal(delta(inf), count, `duration +Inf bucket ${status}`);
        assert.ok(delta(`lathe_http_request_duration_seconds_sum${labels}`) > 0, `duration _sum ${status}`);
      }
      // Per model too: each successful request was one inference of its model.
      assert.equal(delta('lathe_model_requests_total{model="glove-100d",version="1",outcome="success"}'), 180);
      assert.equal(delta('lathe_model_requests_total{model="bert-mini",version="1",outcome="success"}'), 180);
      // Only the scrape itself was in flight.
      assert.equal(metricsAfter.get('lathe_http_requests_in_flight'), 1);
    });
  });

  it('a request without a usable x-request-id gets a UUID, echoed and in its access line', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const none = await post(agent, port, { model: 'glove-100d', input: 'no id given' });
      // Too long to be accepted: replaced, not echoed.
      const tooLong = await post(agent, port, { model: 'no-such-model', input: 'x' }, 'x'.repeat(129));
      assert.equal(none.status, 200);
      assert.equal(tooLong.status, 404);
      for (const reply of [none, tooLong]) assert.match(reply.requestId!, UUID);
      assert.notEqual(none.requestId, tooLong.requestId);
      assert.equal(tooLong.body.requestId, tooLong.requestId);
      await waitForAccessLines(none.requestId!, 1);
      await waitForAccessLines(tooLong.requestId!, 1);
      for (const [reply, statusCode] of [
        [none, 200],
        [tooLong, 404],
      ] as const) {
        const mine = accessLines().filter((l) => l.requestId === reply.requestId);
        assert.equal(mine.length, 1);
        assert.deepEqual(
          { method: mine[0]!.method, url: mine[0]!.url, statusCode: mine[0]!.statusCode },
          { method: 'POST', url: '/v1/embeddings', statusCode },
        );
      }
      assert.equal(accessLines().filter((l) => l.requestId === 'x'.repeat(129)).length, 0);
    } finally {
      agent.destroy();
    }
  });
});

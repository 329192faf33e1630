import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { LEASE_LOCK_NAMESPACE } from '../../src/fine-tuning/jobs/jobs.repository.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../support/database.js';
import { drawPng, DRAWINGS } from '../support/drawings.js';
import { jsonl, topicExamples } from '../support/fine-tuning.js';
import { type Balancer, DRAIN, processWithLocalPort, startHaproxy } from '../support/load-balancer.js';
import { answered, differs, Load, type LoadRequest, quantile, type Sample } from '../support/lb-load.js';
import { random, randomFloats } from '../support/models.js';
import { freePort, MAIN, makeTempDir, type Spawned, spawnNode, waitFor, waitForStatus } from '../support/processes.js';
import { followEvents } from '../support/sse-follower.js';

/**
 * Long enough to be training still when the second restart begins (after the first replica's drain
 * and boot, 20 s in at the soonest): one of the two restarts then stops its runner.
 */
const EPOCHS = 800;
const TOLERANCE = 1e-5;
const BOOT_MS = 120_000;
const LOAD = { clients: 3, pauseMs: 25, timeoutMs: 30_000 };

interface Replica {
  name: string;
  port: number;
  env: Record<string, string>;
  process?: Spawned;
}

interface Restart {
  replica: string;
  signal: 'SIGTERM' | 'SIGKILL';
  at: number;
  /** When HAProxy's statistics first showed the replica out of the pool (DOWN), its process exited, it was ready again, HAProxy had it UP. */
  down?: number;
  exited?: number;
  /** Requests the drain cut when its grace ran out (Lathe's "Closing with N request(s) still in flight"). */
  cut?: number;
  ready?: number;
  up?: number;
}

/**
 * Debian's HAProxy, configured by deploy/haproxy.cfg, in front of two Lathe processes on one
 * PostgreSQL, under a bounded load: rolling restarts with SIGTERM lose no request, a job submitted
 * through the balancer runs once and is served by both, its event stream survives the restarts;
 * a SIGKILL loses at most what was in flight on the killed replica. Runs alone (`.serial`): it
 * starts three servers and measures latencies.
 */
describe('behind HAProxy: rolling restarts under load', () => {
  let db: TestDatabase;
  let dir: string;
  let lb: Balancer;
  const replicas: Replica[] = [];
  let requests: LoadRequest[];
  const expected = new Map<string, unknown>();

  const start = async (r: Replica) => {
    r.process = spawnNode(MAIN, r.env);
    // Two replicas booting at once on two shared cores took up to 40 s here (migrations, models).
    await waitForStatus(`http://127.0.0.1:${r.port}/health/ready`, 200, BOOT_MS).catch((err: Error) => {
      throw new Error(`${err.message}\n${r.process!.output().slice(-4000)}`);
    });
    return Date.now();
  };

  /** Sends the signal, then watches HAProxy until the replica is out, has exited, is back and is UP again. */
  const restart = async (r: Replica, signal: 'SIGTERM' | 'SIGKILL'): Promise<Restart> => {
    const record: Restart = { replica: r.name, signal, at: Date.now() };
    const watching = (async () => {
      while (record.up === undefined && Date.now() - record.at < BOOT_MS + 30_000) {
        const status = (await lb.stats()).find((s) => s.name === r.name)!.status;
        if (record.down === undefined && status.startsWith('DOWN')) record.down = Date.now();
        if (record.ready !== undefined && status === 'UP') record.up = Date.now();
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    r.process!.child.kill(signal);
    const exit = await r.process!.exited;
    record.exited = Date.now();
    if (signal === 'SIGTERM') {
      assert.deepEqual(exit, { code: 0, signal: null }, r.process!.output().slice(-4000));
      record.cut = Number(/Closing with (\d+) request\(s\) still in flight/.exec(r.process!.output())?.[1] ?? 0);
      assert.ok(
        record.exited - record.at < DRAIN.delayMs + DRAIN.graceMs + DRAIN.closingMs,
        `${r.name} took ${record.exited - record.at} ms`,
      );
    }
    record.ready = await start(r);
    await watching;
    assert.ok(record.down !== undefined && record.up !== undefined, JSON.stringify(record));
    return record;
  };

  const jobStatus = async (id: string) =>
    (await (await fetch(`${lb.base}/v1/fine_tuning/jobs/${id}`)).json()) as {
      status: string;
      fine_tuned_model: string;
      metrics: { steps: number };
      created_at: number;
      finished_at: number;
    };

  /** The replica whose database session holds the job's lease (a session-level advisory lock). */
  const runnerOf = async (id: string): Promise<Replica | undefined> => {
    const rows = (
      await adminQuery(
        db.url,
        `SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1::bigint::oid
           AND l.objid = (hashtext($2)::bigint & 4294967295)::oid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [LEASE_LOCK_NAMESPACE, id],
      )
    ).rows as Array<{ client_port: number }>;
    if (rows.length !== 1) return undefined;
    const pid = await processWithLocalPort(
      replicas.map((r) => r.process!.child.pid!),
      rows[0]!.client_port,
    );
    return replicas.find((r) => r.process!.child.pid === pid);
  };

  const check = (s: Sample): string | undefined => {
    if (!answered(s)) return `${s.kind}: ${s.status} ${s.error ?? JSON.stringify(s.body).slice(0, 300)}`;
    if (s.status === 429) return undefined;
    if (s.kind === 'upload') {
      const body = s.body as { object?: string; purpose?: string; status?: string };
      return body.object === 'file' && body.purpose === 'fine-tune' ? undefined : `upload: ${JSON.stringify(body)}`;
    }
    const d = differs(s.body, expected.get(s.kind), TOLERANCE);
    return d && `${s.kind}: ${d}`;
  };

  before(async () => {
    db = await createTestDatabase();
    dir = await makeTempDir('lathe-lb-');
    for (const name of ['lathe-1', 'lathe-2']) {
      const port = await freePort();
      replicas.push({
        name,
        port,
        env: {
          PORT: String(port),
          HOST: '127.0.0.1',
          DATABASE_URL: db.url,
          LATHE_DATA_DIR: join(dir, name),
          // Boot and drain lines, to read when a boot or a drain goes wrong; requests are logged too.
          LOG_LEVEL: 'info',
          LATHE_SHUTDOWN_DELAY_MS: String(DRAIN.delayMs),
          LATHE_SHUTDOWN_GRACE_MS: String(DRAIN.graceMs),
          LATHE_MODELS_PRELOAD: 'glove-100d,silero-vad,math-symbols',
        },
      });
    }
    // Together on the fresh database, as a new Deployment's pods start: they take turns at the
    // migrations and the queue's setup.
    await Promise.all(replicas.map(start));
    lb = await startHaproxy(replicas.map((r) => `127.0.0.1:${r.port}`));
    await lb.waitUntilUp(
      replicas.map((r) => r.name),
      10_000,
    );

    const rand = random(11);
    const vad = {
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, 576], data: [...randomFloats(576, rand, 0.3)] },
        { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: [...randomFloats(256, rand, 0.5)] },
        { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
      ],
    };
    const image = (await drawPng(DRAWINGS[0]!.strokes)).toString('base64');
    const json = (body: unknown) => () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    requests = [
      {
        kind: 'embeddings-batch',
        path: '/v1/embeddings',
        init: json({ model: 'glove-100d', input: ['a quiet cat', 'the river at night'] }),
      },
      { kind: 'oip-infer', path: '/v2/models/silero-vad/infer', init: json(vad) },
      { kind: 'vision-classify', path: '/v1/vision/classify', init: json({ model: 'math-symbols', images: [image], top_k: 3 }) },
      { kind: 'embeddings', path: '/v1/embeddings', init: json({ model: 'glove-100d', input: 'lathe' }) },
      {
        kind: 'upload',
        path: '/v1/files',
        init: () => {
          const form = new FormData();
          form.append('purpose', 'fine-tune');
          form.append('file', new Blob([jsonl(topicExamples(6))]), 'small.jsonl');
          return { method: 'POST', body: form };
        },
      },
    ];
    // What each request answers, asked once of each replica directly: the two must agree.
    for (const request of requests.filter((q) => q.kind !== 'upload')) {
      const answers = await Promise.all(
        replicas.map((r) => new Load(`http://127.0.0.1:${r.port}`, [], { ...LOAD, maxRequests: 0, maxMs: 0 }).send(request)),
      );
      for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(differs(answers[1]!.body, answers[0]!.body, TOLERANCE), undefined);
      expected.set(request.kind, answers[0]!.body);
    }
  });

  after(async () => {
    await lb?.stop();
    for (const r of replicas) {
      if (r.process && r.process.child.exitCode === null && r.process.child.signalCode === null) {
        r.process.child.kill('SIGKILL');
        await r.process.exited;
      }
    }
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('three SIGTERM restarts: every request answered, the job runs once, its events stream once, both replicas serve its model', async (t: TestContext) => {
    const form = new FormData();
    form.append('purpose', 'fine-tune');
    form.append('file', new Blob([jsonl(topicExamples(80))]), 'topics.jsonl');
    const file = await fetch(`${lb.base}/v1/files`, { method: 'POST', body: form });
    assert.equal(file.status, 200);
    const created = await fetch(`${lb.base}/v1/fine_tuning/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'glove-100d',
        training_file: ((await file.json()) as { id: string }).id,
        seed: 5,
        hyperparameters: { n_epochs: EPOCHS, batch_size: 1 },
      }),
    });
    assert.equal(created.status, 200);
    const jobId = ((await created.json()) as { id: string }).id;
    // The replica running the job: the one whose database session holds the job's lease lock.
    const runner = await waitFor(async () => runnerOf(jobId), 60_000, 'the job to start');
    // A client that follows the job's events on that replica: the first restart then ends its
    // stream and pauses the job, whatever the machine's speed.
    const stream = followEvents(`${lb.base}/v1/fine_tuning/jobs/${jobId}/events?stream=true`, {
      prefer: () => (stream.state.events.length === 0 ? runner.name : undefined),
    });
    await waitFor(async () => (stream.state.events.length > 0 ? true : undefined), 10_000, 'the event stream');

    const load = new Load(lb.base, requests, { ...LOAD, maxRequests: 20_000, maxMs: 150_000 });
    const began = Date.now();
    load.start();
    await new Promise((r) => setTimeout(r, 8_000));
    const restartsFrom = Date.now();
    const restarts: Restart[] = [];
    const statusAtRestart: string[] = [];
    // The replica running the job and serving the stream first, then the other, then the first again.
    const other = replicas.find((r) => r !== runner)!;
    for (const r of [runner, other, runner]) {
      statusAtRestart.push((await jobStatus(jobId)).status);
      restarts.push(await restart(r, 'SIGTERM'));
    }
    const restartsUntil = Date.now();
    await new Promise((r) => setTimeout(r, 3_000));
    const samples = await load.stop();

    const job = await waitFor(
      async () => {
        const body = await jobStatus(jobId);
        return ['succeeded', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
      },
      120_000,
      'the job to finish',
    );
    const followed = await stream.done;

    const steady = samples.filter((s) => s.startedAt < restartsFrom);
    const during = samples.filter((s) => s.startedAt >= restartsFrom && s.startedAt < restartsUntil);
    const stats = await lb.stats();
    t.diagnostic(
      `SIGTERM x3: ${samples.length} requests in ${Math.round((Date.now() - began) / 1000)} s, ` +
        `${samples.filter((s) => !answered(s)).length} failed, ${samples.filter((s) => s.status === 429).length} answered 429; ` +
        `p99 steady ${quantile(steady, 0.99)} ms (n=${steady.length}), during restarts ${quantile(during, 0.99)} ms (n=${during.length}); ` +
        `p50 ${quantile(steady, 0.5)} / ${quantile(during, 0.5)} ms`,
    );
    for (const r of restarts) {
      const lastServed = Math.max(
        ...samples.filter((s) => s.servedBy === r.replica && s.startedAt >= r.at && s.startedAt < r.exited!).map((s) => s.startedAt),
        r.at,
      );
      t.diagnostic(
        `${r.replica} ${r.signal}: out of HAProxy's pool after ${r.down! - r.at} ms, last request sent to it ${lastServed - r.at} ms after the signal, ` +
          `exited after ${r.exited! - r.at} ms (${r.cut} request(s) cut at the end of the grace), ready ${r.ready! - r.exited!} ms after its restart, UP in HAProxy ${r.up! - r.ready!} ms later`,
      );
    }
    t.diagnostic(`HAProxy: ${JSON.stringify(stats)}`);
    t.diagnostic(
      `event stream: ${followed.events.length} events over ${followed.connections.length} connections ${JSON.stringify(followed.connections)}`,
    );

    assert.deepEqual(samples.map(check).filter(Boolean), [], 'every request answered 2xx (or 429 with Retry-After) and right');
    // Its runner got SIGTERM while it trained: it handed the job back, and the other replica resumed it.
    assert.equal(statusAtRestart[0], 'running', 'the job was training when its runner was restarted');
    for (const kind of new Set(requests.map((q) => q.kind)))
      assert.ok(
        during.some((s) => s.kind === kind && s.status === 200),
        kind,
      );
    assert.equal(job.status, 'succeeded', JSON.stringify(job));

    // Once: one model and head, every step once, one queue message completed.
    const query = async (sql: string, params: unknown[] = []) => (await adminQuery(db.url, sql, params)).rows;
    assert.deepEqual(await query('SELECT job_id FROM fine_tuned_models'), [{ job_id: jobId }]);
    assert.deepEqual(await query(`SELECT count(*)::int AS n FROM artifacts WHERE kind = 'head'`), [{ n: 1 }]);
    const steps = await query(`SELECT number FROM fine_tuning_metrics WHERE job_id = $1 AND kind = 'step' ORDER BY number`, [jobId]);
    assert.deepEqual(
      steps.map((r) => r.number),
      Array.from({ length: job.metrics.steps }, (_, i) => i + 1),
    );
    // A drain hands the job back with a new queue message (the old one ends failed): one completed, none left to run.
    const states = (await query(`SELECT state FROM pgboss.job WHERE name = 'lathe-fine-tuning' AND data->>'jobId' = $1`, [jobId])).map(
      (r) => r.state as string,
    );
    assert.equal(states.filter((s) => s === 'completed').length, 1, states.join(', '));
    assert.deepEqual(
      states.filter((s) => ['created', 'retry', 'active'].includes(s)),
      [],
    );
    const messages = (await query(`SELECT message FROM fine_tuning_events WHERE job_id = $1 ORDER BY seq`, [jobId])).map(
      (r) => r.message as string,
    );
    assert.equal(messages.filter((m) => m === 'The job has successfully completed').length, 1);
    const paused = messages.filter((m) => m.startsWith('Training paused')).length;
    t.diagnostic(`job: ${job.finished_at - job.created_at} s from creation to the end, paused by a drain ${paused} time(s)`);
    assert.ok(paused >= 1, messages.join('\n'));
    // Each run notes how it got its features; everything else is said once.
    const repeated = messages.filter((m, i) => !/ features /.test(m) && messages.indexOf(m) !== i);
    assert.deepEqual(repeated, []);

    // The stream: every stored event exactly once, in order, across reconnections with Last-Event-ID.
    const stored = (await query(`SELECT id FROM fine_tuning_events WHERE job_id = $1 ORDER BY seq`, [jobId])).map((r) => r.id as string);
    assert.deepEqual(
      followed.events.map((e) => e.id),
      stored,
    );
    assert.deepEqual(
      followed.events.map((e) => e.event.id),
      stored,
    );
    assert.equal(followed.connections.find((c) => c.ended !== 'elsewhere')!.servedBy, runner.name, 'the stream began on the runner');
    assert.ok(followed.connections.filter((c) => c.ended === 'closed').length >= 1, 'a replica ended the stream as it drained');
    assert.ok(new Set(followed.connections.map((c) => c.servedBy)).size >= 2, 'the stream was served by both replicas');

    // Both replicas serve the model, asked directly.
    for (const r of replicas) {
      const res = await fetch(`http://127.0.0.1:${r.port}/v1/text/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: job.fine_tuned_model, inputs: 'the eagle flew over the river' }),
      });
      assert.equal(res.status, 200, r.name);
      const labels = (await res.json()) as Array<{ label: string }>;
      assert.equal(labels.length, 1);
    }
  });

  it('SIGKILL: only requests in flight on the killed replica may fail, none once HAProxy has taken it out', async (t: TestContext) => {
    const load = new Load(lb.base, requests, { ...LOAD, maxRequests: 10_000, maxMs: 60_000 });
    load.start();
    await new Promise((r) => setTimeout(r, 3_000));
    const killed = await restart(replicas[1]!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 2_000));
    const samples = await load.stop();

    const failed = samples.filter((s) => check(s) !== undefined);
    // In flight on it: sent before its process was gone, answered (or not) after the kill.
    const inFlight = samples.filter((s) => s.startedAt <= killed.exited! && s.startedAt + s.ms >= killed.at);
    t.diagnostic(
      `SIGKILL: ${samples.length} requests, ${inFlight.length} in flight at the kill, ${failed.length} failed ` +
        `${JSON.stringify(failed.map((s) => [s.kind, s.status, s.startedAt - killed.at]))}; ` +
        `process gone ${killed.exited! - killed.at} ms after the kill, out of HAProxy's pool after ${killed.down! - killed.at} ms, ` +
        `ready again ${killed.ready! - killed.exited!} ms after its restart`,
    );
    t.diagnostic(`HAProxy: ${JSON.stringify(await lb.stats())}`);
    for (const s of failed)
      assert.ok(inFlight.includes(s), `failed and not in flight at the kill: ${check(s)} (sent ${s.startedAt - killed.at} ms after it)`);
    assert.ok(failed.length <= LOAD.clients, `${failed.length} failures: at most one per client can be in flight`);
    assert.deepEqual(samples.filter((s) => s.startedAt > killed.down! && check(s) !== undefined).map(check), []);
  });
});

/**
 * Property-based fuzzing of every operation in the app's OpenAPI document (fast-check, fixed seed):
 * no 5xx but a coded 503/504, no crash, every 4xx a coded body whose status matches the ErrorCode table.
 * LATHE_FUZZ_RUNS (total requests, default 20000) and LATHE_FUZZ_SEED run it longer or differently.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatFailures } from '../support/fuzz-oracle.js';
import { type FuzzFixtures, startFuzzFixtures } from '../support/fuzz-fixtures.js';
import { rawExchanges } from '../support/fuzz-http.js';
import { FuzzRunner } from '../support/fuzz-runner.js';
import { type Operation, operationsOf } from '../support/fuzz-spec.js';

const TOTAL_RUNS = Number(process.env.LATHE_FUZZ_RUNS ?? 20_000);
const SEED = Number(process.env.LATHE_FUZZ_SEED ?? 20_261_205);
/** Operations fuzzed at once: the models run in worker threads, so the main thread has time to spare. */
const CONCURRENCY = 3;
/** At most this many distinct failures are shrunk (each takes up to a few seconds). */
const MAX_SHRINKS = 40;

describe(`fuzz: every OpenAPI operation (seed ${SEED}, ${TOTAL_RUNS} requests)`, () => {
  let fx: FuzzFixtures;
  let operations: Operation[];
  let runner: FuzzRunner;
  before(async () => {
    fx = await startFuzzFixtures();
    const fastify = fx.t.app.getHttpAdapter().getInstance();
    const doc = await fastify.inject({ method: 'GET', url: '/docs-json' });
    operations = operationsOf(doc.json());
    runner = new FuzzRunner(fastify, fx.ctx, SEED, (id) => {
      // Taken once: a client-chosen x-request-id may come again with another request.
      const cause = fx.serverErrors.get(id);
      fx.serverErrors.delete(id);
      return cause;
    });
  });
  after(() => fx?.close());

  it('answers every generated request with a documented status and a coded body, and keeps running', async () => {
    const share = Math.ceil(TOTAL_RUNS / operations.length);
    const started = Date.now();
    const indexed = operations.map((op, index) => ({ op, index }));
    // Deleting, cancelling and unloading would take the fixtures away from the others: those run last.
    const queue = indexed.filter(({ op }) => !op.destructive);
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await runner.run(next.op, next.index, share);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    for (const { op, index } of indexed.filter(({ op }) => op.destructive)) await runner.run(op, index, share);
    const seconds = (Date.now() - started) / 1000;

    const lines = [...runner.stats.values()].map((s) => {
      const statuses = [...s.statuses.entries()]
        .sort(([a], [b]) => a - b)
        .map(([code, n]) => `${code}:${n}`)
        .join(' ');
      return `  ${s.operation.padEnd(55)} ${String(s.requests).padStart(6)}  ${statuses}`;
    });
    const total = [...runner.stats.values()].reduce((n, s) => n + s.requests, 0);
    console.log(
      `fuzz: ${total} requests over ${operations.length} operations in ${seconds.toFixed(1)} s (seed ${SEED})\n${lines.join('\n')}`,
    );

    const failures = [...runner.failures.values()];
    for (const failure of failures.slice(0, MAX_SHRINKS)) await runner.shrink(failure);
    const report = formatFailures(failures);
    console.log(`fuzz: ${report}`);

    // Never a crash: the app still answers.
    const live = await fx.t.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.ok(total >= TOTAL_RUNS, `${total} requests, fewer than ${TOTAL_RUNS}`);
    for (const s of runner.stats.values()) assert.ok(s.requests >= share, `${s.operation}: ${s.requests} requests`);
    assert.equal(failures.length, 0, report);
  });

  it('answers truncated, malformed and oversized requests on a real socket with a coded body or a closed connection', async () => {
    await fx.t.app.listen({ port: 0, host: '127.0.0.1' });
    const problems = await rawExchanges(fx.t.server, fx.ctx);
    const live = await fx.t.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.deepEqual(problems, []);
  });
});

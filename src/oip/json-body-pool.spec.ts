import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { parseInferBody, type WorkerReply } from './json-body.js';
import { JsonBodyPool } from './json-body-pool.js';

const body = (value: unknown) => Buffer.from(JSON.stringify(value));
const REQUEST = {
  id: 'r1',
  inputs: [
    {
      name: 'x',
      datatype: 'FP32',
      shape: [2, 2],
      data: [
        [1, 2.5],
        [-3, 'NaN'],
      ],
    },
    { name: 'n', datatype: 'INT64', shape: [1], data: ['9007199254740993'] },
    { name: 'bad', datatype: 'UINT8', shape: [1], data: [256] },
    { name: 'b', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
    7,
  ],
};

describe('parseInferBody (the JSON body worker)', () => {
  it('decodes every JSON input, leaves its data null, and keeps client mistakes as their messages', () => {
    const reply = parseInferBody(body(REQUEST));
    assert.equal(reply.kind, 'parsed');
    const { value, decoded } = reply as Extract<WorkerReply, { kind: 'parsed' }>;
    assert.deepEqual(
      (value as typeof REQUEST).inputs.map((i) => (typeof i === 'object' ? i.data : i)),
      [null, null, null, undefined, 7],
    );
    assert.deepEqual(decoded[0], { tensor: { datatype: 'FP32', shape: [2, 2], data: Float32Array.of(1, 2.5, -3, NaN) } });
    assert.deepEqual(decoded[1], { tensor: { datatype: 'INT64', shape: [1], data: BigInt64Array.of(9007199254740993n) } });
    assert.deepEqual(decoded[2], { error: 'input "bad": element 0 (256) is out of range for UINT8' });
    assert.deepEqual(decoded.slice(3), [null, null]);
  });

  it('answers invalid UTF-8, malformed JSON and prototype keys as the inline parser refuses them', () => {
    assert.deepEqual(parseInferBody(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), { kind: 'invalid-utf8' });
    assert.deepEqual(parseInferBody(Buffer.from('{"inputs": [')), { kind: 'malformed' });
    assert.deepEqual(parseInferBody(Buffer.from('{"inputs": [], "__proto__": {"admin": true}}')), { kind: 'malformed' });
    assert.deepEqual(parseInferBody(Buffer.from('{"constructor": {"prototype": {"admin": true}}}')), { kind: 'malformed' });
    assert.deepEqual(parseInferBody(Buffer.from('[1, 2]')), { kind: 'parsed', value: [1, 2], decoded: [] });
  });
});

describe('JsonBodyPool', () => {
  const pools: JsonBodyPool[] = [];
  after(() => Promise.all(pools.map((p) => p.close())));

  it("gives the worker thread's answer, with the tensors' buffers moved back", async () => {
    const pool = new JsonBodyPool({ workers: 2, maxQueue: 4 });
    pools.push(pool);
    const bytes = body(REQUEST);
    const reply = await pool.parse(Buffer.from(bytes));
    assert.deepEqual(reply, parseInferBody(bytes));
    assert.equal(pool.parsed, 1);
  });

  it('runs its workers at nice 10 on Linux and leaves the calling thread as it was', { skip: process.platform !== 'linux' }, async () => {
    // Field 19 of /proc/<pid>/task/<tid>/stat, counted after the command name's closing parenthesis.
    const niceOf = (tid: string) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const tids = () => readdirSync('/proc/self/task');
    const mainBefore = niceOf(String(process.pid));
    const before = new Set(tids());
    const pool = new JsonBodyPool({ workers: 2, maxQueue: 0 });
    pools.push(pool);
    await Promise.all([pool.parse(body(REQUEST)), pool.parse(body(REQUEST))]);
    const added = tids().filter((tid) => !before.has(tid) && niceOf(tid) === 10);
    assert.ok(added.length >= 2, `${added.length} new threads at nice 10`);
    assert.equal(niceOf(String(process.pid)), mainBefore);
  });

  it('refuses a body at once with 429 OVERLOADED and Retry-After when every worker is busy and the queue is full', async () => {
    const pool = new JsonBodyPool({ workers: 1, maxQueue: 1 });
    pools.push(pool);
    const running = pool.parse(body(REQUEST));
    const waiting = pool.parse(body(REQUEST));
    await assert.rejects(pool.parse(body(REQUEST)), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, ErrorCode.Overloaded);
      assert.equal(err.message, 'JSON body parsing: 1 running and 1 waiting (limit 1); retry later');
      assert.deepEqual(err.headers, { 'retry-after': '1' });
      return true;
    });
    assert.deepEqual(await Promise.all([running, waiting]), [parseInferBody(body(REQUEST)), parseInferBody(body(REQUEST))]);
    assert.equal(pool.parsed, 2);
  });

  it('refuses work once closed, and whatever was still running or waiting', async () => {
    const pool = new JsonBodyPool({ workers: 1, maxQueue: 2 });
    const shuttingDown = { code: ErrorCode.Unavailable, message: 'the server is shutting down' };
    const refused = [pool.parse(body(REQUEST)), pool.parse(body(REQUEST))].map((p) => assert.rejects(p, shuttingDown));
    await pool.close();
    await Promise.all(refused);
    await assert.rejects(pool.parse(body(REQUEST)), { code: ErrorCode.Unavailable });
  });

  it('ends a worker idle for idleMs, thread and all, and starts a new one for the next body', async () => {
    const pool = new JsonBodyPool({ workers: 2, maxQueue: 4, idleMs: 50 });
    pools.push(pool);
    const threads = () => readdirSync('/proc/self/task').length;
    const before = threads();
    assert.deepEqual(await pool.parse(body(REQUEST)), parseInferBody(body(REQUEST)));
    assert.equal(pool.workers, 1);
    const deadline = Date.now() + 5_000;
    while ((pool.workers > 0 || threads() > before) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pool.workers, 0);
    assert.equal(threads(), before);
    assert.deepEqual(await pool.parse(body(REQUEST)), parseInferBody(body(REQUEST)));
    assert.equal(pool.workers, 1);
    assert.equal(pool.parsed, 2);
  });
});

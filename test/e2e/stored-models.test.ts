import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { MODELS_CHANNEL } from '../../src/models/model-change-listener.js';
import { ModelRepository } from '../../src/models/model-repository.service.js';
import type { StoredModel } from '../../src/models/stored-models.js';
import { encodeModel, tensor } from '../../src/onnx/onnx-builder.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminQuery } from '../support/database.js';
import { random } from '../support/models.js';
import { ROOT, waitFor } from '../support/processes.js';

const DIM = 100;
const LABELS = ['animals', 'money'];

/** A linear head over glove-100d's sentence vectors, as fine-tuning stores one. */
function headModel(weights: Float32Array, bias: Float32Array): StoredModel {
  const onnx = encodeModel({
    graphName: 'head',
    inputs: [{ name: 'features', type: 'float32', dims: ['batch', DIM] }],
    outputs: [{ name: 'logits', type: 'float32', dims: ['batch', LABELS.length] }],
    initializers: [tensor('W', weights, [DIM, LABELS.length]), tensor('b', bias, [LABELS.length])],
    nodes: [{ op: 'Gemm', inputs: ['features', 'W', 'b'], outputs: ['logits'] }],
  });
  return {
    name: 'ft:glove-100d:topics:ftjob-test',
    version: '1',
    digest: createHash('sha256').update(onnx).digest('hex'),
    files: async () => ({ 'head.onnx': onnx }),
    manifest: {
      task: 'text-classification',
      source: { file: 'head.onnx' },
      inputs: [{ name: 'features', datatype: 'FP32', shape: [DIM] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [LABELS.length] }],
      labels: LABELS,
      maxBatchSize: 64,
      parameters: { backbone: 'glove-100d', scores: 'softmax' },
    },
  };
}

describe('models kept outside the repository folder (a fine-tuned head over glove-100d)', () => {
  let t: TestApp;
  const rand = random(5);
  const weights = Float32Array.from({ length: DIM * LABELS.length }, () => rand() - 0.5);
  const bias = Float32Array.from([0.1, -0.2]);
  before(async () => {
    t = await startTestApp({ LATHE_MODELS_DIR: join(ROOT, 'models') });
    const repository = t.app.get(ModelRepository);
    repository.addSource({ what: 'test models', list: async () => [headModel(weights, bias)] });
    await repository.reindex();
  });
  after(() => t.close());

  it('classifies text through the backbone and the head, matching the embeddings times the weights', async () => {
    const texts = ['the cat chased a small bird', 'interest rates and bond yields rose', 'a quiet dog sleeps'];
    const res = await request(t.server)
      .post('/v1/text/classify')
      .send({ model: 'ft:glove-100d:topics:ftjob-test', inputs: texts, top_k: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const vectors = (await request(t.server).post('/v1/embeddings').send({ model: 'glove-100d', input: texts })).body.data as Array<{
      embedding: number[];
    }>;
    texts.forEach((text, i) => {
      const logits = LABELS.map((_, k) => vectors[i]!.embedding.reduce((s, x, d) => s + x * weights[d * LABELS.length + k]!, bias[k]!));
      const max = Math.max(...logits);
      const exp = logits.map((l) => Math.exp(l - max));
      const probs = exp.map((e) => e / exp.reduce((a, b) => a + b, 0));
      const order = [0, 1].sort((a, b) => probs[b]! - probs[a]!);
      const got = res.body[i] as Array<{ label: string; score: number }>;
      assert.deepEqual(
        got.map((p) => p.label),
        order.map((k) => LABELS[k]),
        text,
      );
      got.forEach((p, j) => assert.ok(Math.abs(p.score - probs[order[j]!]!) < 1e-5, `${text}: ${p.score} vs ${probs[order[j]!]}`));
    });
  });

  it('serves the head on /v2 as well (features in, logits out) and lists it in the repository index', async () => {
    const features = Array.from({ length: DIM }, (_, d) => (d % 7) / 10);
    const res = await request(t.server)
      .post('/v2/models/ft:glove-100d:topics:ftjob-test/infer')
      .send({
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, DIM], data: features }],
      });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const expected = LABELS.map((_, k) => features.reduce((s, x, d) => s + x * weights[d * LABELS.length + k]!, bias[k]!));
    (res.body.outputs[0].data as number[]).forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) < 1e-5));
    const index = await request(t.server).post('/v2/repository/index').send({});
    assert.ok((index.body as Array<{ name: string }>).some((m) => m.name === 'ft:glove-100d:topics:ftjob-test'));
  });

  it("lists it in /v1/models (OpenAI's shape) beside the repository folder's models", async () => {
    const list = await request(t.server).get('/v1/models');
    assert.equal(list.status, 200);
    assert.equal(list.body.object, 'list');
    const byId = new Map((list.body.data as Array<{ id: string }>).map((m) => [m.id, m]));
    for (const id of ['glove-100d', 'silero-vad', 'paddleocr-rec', 'ft:glove-100d:topics:ftjob-test']) assert.ok(byId.has(id), id);
    const ft = await request(t.server).get('/v1/models/ft:glove-100d:topics:ftjob-test');
    assert.deepEqual(
      { ...ft.body, created: typeof ft.body.created },
      {
        id: 'ft:glove-100d:topics:ftjob-test',
        object: 'model',
        created: 'number',
        owned_by: 'fine-tuning',
        task: 'text-classification',
        versions: ['1'],
        state: 'READY',
      },
    );
    assert.ok(ft.body.created > 1_700_000_000);
    assert.equal((await request(t.server).get('/v1/models/nope')).status, 404);
  });
});

describe('two replicas on one database', () => {
  let a: TestApp;
  let b: TestApp;
  const rand = random(9);
  const weights = Float32Array.from({ length: DIM * LABELS.length }, () => rand() - 0.5);
  const bias = Float32Array.from([0, 0]);
  /** Stands in for the fine-tuning tables: a replica stores a model in a row and announces it. */
  const tableSource = (url: string) => ({
    what: 'stored test models',
    list: async () => {
      const { rows } = await adminQuery(url, 'SELECT name, version, manifest, onnx FROM stored_test_models');
      return (rows as Array<{ name: string; version: string; manifest: object; onnx: Buffer }>).map((r) => ({
        name: r.name,
        version: r.version,
        manifest: r.manifest,
        digest: createHash('sha256').update(r.onnx).digest('hex'),
        files: async () => ({ 'head.onnx': new Uint8Array(r.onnx) }),
      }));
    },
  });
  before(async () => {
    a = await startTestApp({ LATHE_MODELS_DIR: join(ROOT, 'models') });
    await adminQuery(a.db.url, 'CREATE TABLE stored_test_models (name text primary key, version text, manifest jsonb, onnx bytea)');
    b = await startTestApp({ LATHE_MODELS_DIR: join(ROOT, 'models'), DATABASE_URL: a.db.url });
    for (const app of [a, b]) app.app.get(ModelRepository).addSource(tableSource(a.db.url));
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('a model stored and announced by one replica is served by both without a restart', async () => {
    const model = headModel(weights, bias);
    const name = 'ft:glove-100d:replicas:ftjob-test';
    await adminQuery(a.db.url, `INSERT INTO stored_test_models VALUES ($1, $2, $3, $4)`, [
      name,
      model.version,
      JSON.stringify(model.manifest),
      Buffer.from((await model.files())['head.onnx']!),
    ]);
    await adminQuery(a.db.url, `SELECT pg_notify($1, $2)`, [MODELS_CHANNEL, name]);
    for (const app of [a, b]) {
      const answer = await waitFor(
        async () => {
          const res = await request(app.server).post('/v1/text/classify').send({ model: name, inputs: 'a cat and a dog' });
          return res.status === 200 ? (res.body as Array<{ label: string }>) : undefined;
        },
        10_000,
        `replica serving ${name}`,
      );
      assert.equal(answer.length, 1);
      assert.ok(LABELS.includes(answer[0]!.label));
    }
  });
});

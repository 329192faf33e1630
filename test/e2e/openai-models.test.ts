import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import request from 'supertest';
import { loadConfig } from '../../src/config/app-config.js';
import { deserializeState } from '../../src/training/state-codec.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { adminQuery } from '../support/database.js';
import { jsonl, startReplica, topicExamples } from '../support/fine-tuning.js';
import { waitFor } from '../support/processes.js';

const TOLERANCE = 1e-5;

/**
 * OpenAI's SDK against two replicas on one database: a fine-tuned model is deleted (both replicas
 * stop serving it), a checkpoint serves as a model, and errors carry `type` and `param`.
 */
describe('OpenAI SDK: model deletion, checkpoints as models, error fields', () => {
  let a: TestApp;
  let b: Awaited<ReturnType<typeof startReplica>>;
  let client: OpenAI;
  let model: string;
  let jobId: string;
  let headArtifact: string;
  let checkpoint: { name: string; artifactId: string; step: number };
  const labels = [...new Set(topicExamples(1).map((e) => e.label))].sort();

  before(async () => {
    a = await startTestApp();
    b = await startReplica(a.db.url);
    await a.app.listen(0, '127.0.0.1');
    const { port } = a.app.getHttpServer().address() as AddressInfo;
    client = new OpenAI({ apiKey: 'unused', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const file = await client.files.create({ file: new File([jsonl(topicExamples(20))], 'topics.jsonl'), purpose: 'fine-tune' });
    const created = await client.fineTuning.jobs.create({
      model: 'glove-100d',
      training_file: file.id,
      suffix: 'del',
      seed: 3,
      hyperparameters: { n_epochs: 4, batch_size: 16 },
    });
    const done = await waitFor(
      async () => {
        const job = await client.fineTuning.jobs.retrieve(created.id);
        return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
      },
      60_000,
      'the job to finish',
    );
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    model = done.fine_tuned_model!;
    jobId = done.id;
    headArtifact = (done as unknown as { head_artifact_id: string }).head_artifact_id;
    const page = await client.fineTuning.jobs.checkpoints.list(jobId);
    const first = page.data.at(-1)! as (typeof page.data)[number] & { artifact_id: string };
    checkpoint = { name: first.fine_tuned_model_checkpoint, artifactId: first.artifact_id, step: first.step_number };
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it("reads error.type and error.param from a 400 and a 404, as OpenAI's SDK exposes them", async () => {
    const tooMany = await client.fineTuning.jobs.list({ limit: 1000 }).catch((err: unknown) => err);
    assert.ok(tooMany instanceof OpenAI.BadRequestError);
    assert.deepEqual(
      { status: tooMany.status, type: tooMany.type, param: tooMany.param, code: tooMany.code },
      { status: 400, type: 'invalid_request_error', param: 'limit', code: 'VALIDATION_FAILED' },
    );
    const noFile = await client.fineTuning.jobs
      .create({ model: 'glove-100d', training_file: 'file-000000000000000000000000' })
      .catch((err: unknown) => err);
    assert.ok(noFile instanceof OpenAI.NotFoundError);
    assert.deepEqual(
      { type: noFile.type, param: noFile.param, code: noFile.code, message: noFile.message },
      {
        type: 'invalid_request_error',
        param: 'training_file',
        code: 'NOT_FOUND',
        message: '404 training_file: no file with id "file-000000000000000000000000"',
      },
    );
  });

  it("serves a checkpoint as a model: the head with the trainer state's weights at that step", async () => {
    assert.match(checkpoint.name, new RegExp(`^${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:ckpt-step-\\d+$`));
    const retrieved = await client.models.retrieve(checkpoint.name);
    assert.deepEqual(
      { id: retrieved.id, object: retrieved.object, owned_by: retrieved.owned_by },
      { id: checkpoint.name, object: 'model', owned_by: 'fine-tuning' },
    );
    // The reference: logits = features . W + b, with W and b read from the checkpoint's trainer state.
    const state = await request(a.server)
      .get(`/v1/artifacts/${checkpoint.artifactId}`)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });
    const params = deserializeState(state.body as Buffer).params;
    const dim = 100;
    const features = Array.from({ length: dim }, (_, i) => Math.sin(i + 1) / 4);
    const expected = labels.map((_, k) =>
      features.reduce((sum, x, i) => sum + x * params[i * labels.length + k]!, params[dim * labels.length + k]!),
    );
    const res = await request(a.server)
      .post(`/v2/models/${encodeURIComponent(checkpoint.name)}/infer`)
      .send({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, dim], data: features }], outputs: [{ name: 'logits' }] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const logits = (res.body.outputs as Array<{ data: number[] }>)[0]!.data;
    assert.equal(logits.length, labels.length);
    logits.forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) <= TOLERANCE, `logit ${k}: ${v} vs ${expected[k]}`));
    // On the task route, through the backbone, like the model itself.
    const classified = await request(b.server)
      .post('/v1/text/classify')
      .send({ model: checkpoint.name, inputs: 'the eagle flew over the river', top_k: labels.length });
    assert.equal(classified.status, 200, JSON.stringify(classified.body));
    assert.deepEqual((classified.body as Array<{ label: string }>).map((p) => p.label).sort(), labels);
    const metadata = await request(a.server).get(`/v2/models/${encodeURIComponent(checkpoint.name)}`);
    assert.equal(metadata.body.parameters.lineage_checkpoint_step, String(checkpoint.step));
    for (const [key, value] of Object.entries(metadata.body.parameters as Record<string, unknown>)) {
      assert.ok(['string', 'number', 'boolean'].includes(typeof value), `${key}: ${JSON.stringify(value)}`);
    }
  });

  it('refuses to delete a base model, a checkpoint or an unknown model, with their codes', async () => {
    const base = await client.models.delete('glove-100d').catch((err: unknown) => err);
    assert.ok(base instanceof OpenAI.BadRequestError);
    assert.deepEqual(
      { code: base.code, message: base.message },
      {
        code: 'MODEL_NOT_DELETABLE',
        message: '400 model "glove-100d" comes from the model repository folder; only fine-tuned models (ft:...) can be deleted',
      },
    );
    const ckpt = await client.models.delete(checkpoint.name).catch((err: unknown) => err);
    assert.ok(ckpt instanceof OpenAI.BadRequestError);
    assert.equal(ckpt.code, 'MODEL_NOT_DELETABLE');
    const unknown = await client.models.delete('ft:glove-100d:x:ftjob-000000000000000000000000').catch((err: unknown) => err);
    assert.ok(unknown instanceof OpenAI.NotFoundError);
    assert.equal(unknown.code, 'MODEL_NOT_FOUND');
    assert.equal((await request(a.server).post('/v1/text/classify').send({ model: 'glove-100d', inputs: 'x' })).status !== 404, true);
  });

  it('deletes a fine-tuned model: retrieve answers 404 and both replicas stop serving it and its checkpoints', async (t) => {
    // Both replicas serve it (and its checkpoint) first.
    for (const server of [a.server, b.server]) {
      for (const name of [model, checkpoint.name]) {
        const res = await request(server).post('/v1/text/classify').send({ model: name, inputs: 'heavy rain fell all night' });
        assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
      }
    }
    const started = Date.now();
    const deleted = await client.models.delete(model);
    t.diagnostic(`DELETE answered in ${Date.now() - started} ms`);
    assert.deepEqual(deleted, { id: model, object: 'model', deleted: true });
    const gone = await client.models.retrieve(model).catch((err: unknown) => err);
    assert.ok(gone instanceof OpenAI.NotFoundError);
    assert.equal(gone.code, 'MODEL_NOT_FOUND');
    for (const server of [a.server, b.server]) {
      await waitFor(
        async () => ((await request(server).get(`/v1/models/${encodeURIComponent(model)}`)).status === 404 ? true : undefined),
        10_000,
        'the replica to forget the model',
      );
      t.diagnostic(`${server === a.server ? 'replica a' : 'replica b'} answers 404 ${Date.now() - started} ms after the DELETE was sent`);
      for (const name of [model, checkpoint.name]) {
        const res = await request(server).post('/v1/text/classify').send({ model: name, inputs: 'heavy rain fell all night' });
        assert.deepEqual([res.status, res.body.error?.code], [404, 'MODEL_NOT_FOUND'], name);
      }
      // No worker keeps serving it: only loaded models have statistics.
      const stats = (await request(server).get('/v2/models/stats')).body.model_stats as Array<{ name: string }>;
      assert.deepEqual(
        stats.filter((s) => s.name.startsWith('ft:')),
        [],
      );
    }
    const storedModels = resolve(loadConfig({}).database.embedded.dataDir, 'stored-models');
    for (const name of [model, checkpoint.name]) assert.equal(existsSync(join(storedModels, encodeURIComponent(name))), false, name);
    const rows = await adminQuery(
      a.db.url,
      `SELECT (SELECT count(*)::int FROM fine_tuned_models) AS models, (SELECT count(*)::int FROM artifacts WHERE id = $1) AS heads,
              (SELECT head_artifact_id FROM fine_tuning_jobs WHERE id = $2) AS job_head`,
      [headArtifact, jobId],
    );
    assert.deepEqual(rows.rows[0], { models: 0, heads: 0, job_head: null });
    // The job's history stays: OpenAI keeps a job after its model is deleted.
    assert.equal((await client.fineTuning.jobs.retrieve(jobId)).status, 'succeeded');
    const again = await client.models.delete(model).catch((err: unknown) => err);
    assert.ok(again instanceof OpenAI.NotFoundError);
  });
});

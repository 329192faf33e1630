import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import ort from 'onnxruntime-node';
import pg from 'pg';
import request from 'supertest';
import { FineTunedModelsService } from '../../src/fine-tuning/models/fine-tuned-models.service.js';
import { adminQuery } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  dataFrames,
  eventMessages,
  type FileBody,
  getJob,
  jsonl,
  parseEventStream,
  readEventStream,
  topicExamples,
  uploadFile,
  waitForStatus,
} from '../support/fine-tuning.js';
import { waitFor } from '../support/processes.js';

const count = async (t: TestApp, table: string) =>
  (await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

describe('fine-tuning jobs: refused before anything is created', () => {
  let t: TestApp;
  let good: string;
  const post = (body: unknown) =>
    request(t.server)
      .post('/v1/fine_tuning/jobs')
      .send(body as object);
  const upload = async (lines: unknown[]) => ((await uploadFile(t.server, jsonl(lines))).body as FileBody).id;

  before(async () => {
    t = await startTestApp();
    good = await upload(topicExamples(10));
  });
  after(() => t.close());

  const nothingCreated = async () => {
    assert.equal(await count(t, 'fine_tuning_jobs'), 0);
    assert.equal(await count(t, 'fine_tuning_events'), 0);
    assert.equal((await adminQuery(t.db.url, `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'lathe-fine-tuning'`)).rows[0].n, 0);
  };

  it('unknown backbone: 404; a model that is not a text encoder: 400', async () => {
    const unknown = await post({ model: 'no-such-model', training_file: good });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body.error, {
      code: 'MODEL_NOT_FOUND',
      message: 'model "no-such-model" is not in the repository',
      type: 'invalid_request_error',
      param: null,
    });
    const vad = await post({ model: 'silero-vad', training_file: good });
    assert.equal(vad.status, 400);
    assert.equal(vad.body.error.code, 'VALIDATION_FAILED');
    assert.match(vad.body.error.message, /^model "silero-vad" is a voice-activity-detection model; a backbone must be a text encoder/);
    await nothingCreated();
  });

  it('missing files: 404 naming the parameter', async () => {
    const res = await post({ model: 'glove-100d', training_file: 'file-000000000000000000000000' });
    assert.equal(res.status, 404);
    assert.deepEqual(res.body.error, {
      code: 'NOT_FOUND',
      message: 'training_file: no file with id "file-000000000000000000000000"',
      type: 'invalid_request_error',
      param: 'training_file',
      details: { param: 'training_file' },
    });
    const validation = await post({ model: 'glove-100d', training_file: good, validation_file: 'file-nope' });
    assert.equal(validation.status, 404);
    assert.equal(validation.body.error.details.param, 'validation_file');
    await nothingCreated();
  });

  it('a file with line errors, one class or no examples: 400 with its validation report', async () => {
    const missingLabels = await upload([...topicExamples(5), { text: 'no label here' }]);
    const res = await post({ model: 'glove-100d', training_file: missingLabels });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'DATASET_INVALID');
    assert.equal(
      res.body.error.message,
      `training_file ${missingLabels} cannot be trained on: 1 problem(s), first line 16: missing "label" (classification) or "target" (regression)`,
    );
    assert.equal(res.body.error.details.param, 'training_file');
    assert.deepEqual(res.body.error.details.validation.errors, [
      { line: 16, message: 'missing "label" (classification) or "target" (regression)' },
    ]);

    const oneClass = await upload(topicExamples(10).filter((e) => e.label === 'weather'));
    const single = await post({ model: 'glove-100d', training_file: oneClass });
    assert.equal(single.status, 400);
    assert.match(single.body.error.message, /every example has the label "weather"; classification needs at least two classes$/);

    const empty = await upload(['', '   ']);
    const none = await post({ model: 'glove-100d', training_file: empty });
    assert.equal(none.status, 400);
    assert.match(none.body.error.message, /the file has no examples \(it is empty\)$/);
    assert.equal(none.body.error.details.validation.examples, 0);

    const images = await upload([
      { image: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', label: 'a' },
      { image: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', label: 'b' },
    ]);
    const imageJob = await post({ model: 'glove-100d', training_file: images });
    assert.equal(imageJob.status, 400);
    assert.match(imageJob.body.error.message, /has image inputs; backbone "glove-100d" takes text$/);

    const otherLabels = await upload([
      { text: 'a red apple', label: 'fruit' },
      { text: 'the dog barks', label: 'animals' },
    ]);
    const mismatch = await post({ model: 'glove-100d', training_file: good, validation_file: otherLabels });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error.message, 'validation_file: it has labels the training file does not: fruit');
    await nothingCreated();
  });

  it('hyperparameters out of range or in conflict: 400 listing each', async () => {
    const res = await post({
      model: 'glove-100d',
      training_file: good,
      hyperparameters: { n_epochs: 0, batch_size: 'big', learning_rate: -1, head: 'cnn', warp: 9 },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.deepEqual(res.body.error.details.map((d: { field: string }) => d.field).sort(), [
      'hyperparameters',
      'hyperparameters.batch_size',
      'hyperparameters.head',
      'hyperparameters.learning_rate',
      'hyperparameters.n_epochs',
    ]);

    const conflict = await post({
      model: 'glove-100d',
      training_file: good,
      hyperparameters: { loss: 'mse', hidden: 32, momentum: 0.5, early_stopping_patience: 2, validation_split: 0 },
    });
    assert.equal(conflict.status, 400);
    assert.deepEqual(conflict.body.error.details, [
      {
        field: 'hyperparameters.loss',
        problems: ['the training file is labelled for classification, which trains with cross-entropy, not mse'],
      },
      { field: 'hyperparameters.momentum', problems: ['momentum is for optimizer "momentum"'] },
      {
        field: 'hyperparameters.early_stopping_patience',
        problems: ['early stopping needs held-out data: give a validation_file or a validation_split'],
      },
    ]);
    const bad = [
      { seed: -1 },
      { suffix: 'has spaces' },
      { hyperparameters: { validation_split: 0.9 } },
      { hyperparameters: { dropout: 1 } },
      { hyperparameters: { learning_rate: 0.1, learning_rate_multiplier: 2 } },
      { integrations: [{ type: 'wandb', wandb: { project: 'x' } }] },
      { method: { type: 'dpo' } },
      { hyperparameters: { n_epochs: 2 }, method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 3 } } } },
    ];
    for (const extra of bad) {
      const r = await post({ model: 'glove-100d', training_file: good, ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.equal(r.body.error.code, 'VALIDATION_FAILED', JSON.stringify(extra));
    }
    await nothingCreated();
  });

  it('unknown jobs: 404 on every route', async () => {
    for (const path of ['', '/events', '/checkpoints', '/metrics']) {
      assert.equal((await request(t.server).get(`/v1/fine_tuning/jobs/ftjob-nope${path}`)).status, 404, path);
    }
    assert.equal((await request(t.server).post('/v1/fine_tuning/jobs/ftjob-nope/cancel')).status, 404);
    assert.equal((await request(t.server).get('/v1/artifacts/artifact-nope')).status, 404);
  });
});

describe('fine-tuning jobs: a full run on glove-100d', () => {
  let t: TestApp;
  let client: OpenAI;
  let trainingFile: string;
  let job: OpenAI.FineTuning.FineTuningJob & { metrics: Record<string, number>; head_artifact_id: string };
  const notified: string[] = [];
  let listener: pg.Client;

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    client = new OpenAI({ apiKey: 'unused', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    listener = new pg.Client({ connectionString: t.db.url });
    await listener.connect();
    listener.on('notification', (n) => notified.push(`${n.channel}:${n.payload}`));
    await listener.query('LISTEN lathe_models');
  });
  after(async () => {
    await listener.end();
    await t.close();
  });

  it('trains through the official openai client to succeeded, with held-out accuracy >= 0.85', async () => {
    const file = await client.files.create({ file: new File([jsonl(topicExamples(80))], 'topics.jsonl'), purpose: 'fine-tune' });
    assert.equal(file.status, 'processed');
    trainingFile = file.id;
    const created = await client.fineTuning.jobs.create({
      model: 'glove-100d',
      training_file: file.id,
      suffix: 'topics',
      seed: 7,
      hyperparameters: { n_epochs: 12, batch_size: 16 },
    });
    assert.equal(created.status, 'queued');
    assert.match(created.id, /^ftjob-[0-9a-f]{24}$/);
    assert.deepEqual(created.hyperparameters, {
      n_epochs: 12,
      batch_size: 16,
      learning_rate_multiplier: 1,
      head: 'linear',
      dropout: 0,
      loss: 'cross-entropy',
      optimizer: 'adam',
      learning_rate: 0.01,
      schedule: 'constant',
      warmup_steps: 0,
      weight_decay: 0,
      validation_split: 0.2,
    });
    const done = await waitFor(
      async () => {
        const current = await client.fineTuning.jobs.retrieve(created.id);
        return ['succeeded', 'failed', 'cancelled'].includes(current.status) ? current : undefined;
      },
      60_000,
      'the job to finish',
    );
    job = done as typeof job;
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.fine_tuned_model, `ft:glove-100d:topics:${created.id}`);
    assert.equal(job.object, 'fine_tuning.job');
    assert.equal(job.organization_id, 'org-lathe');
    assert.equal(job.seed, 7);
    assert.equal(job.error, null);
    assert.equal(job.result_files.length, 1);
    assert.ok(job.finished_at! >= job.created_at);
    assert.ok(job.trained_tokens! > 0);
    assert.ok(job.metrics.valid_accuracy! >= 0.85, `held-out accuracy ${job.metrics.valid_accuracy}`);
    assert.equal(job.metrics.epochs, 12);
    assert.equal(job.metrics.steps, 12 * Math.ceil(192 / 16));
  });

  it('records events, checkpoints (one an epoch) and the whole metrics history', async () => {
    const events: string[] = [];
    for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 5 })) {
      assert.equal(e.object, 'fine_tuning.job.event');
      events.push(e.message);
    }
    events.reverse();
    assert.deepEqual(events.slice(0, 4), [
      `Created fine-tuning job: ${job.id}`,
      `Validating training file: ${trainingFile}`,
      'Files validated (240 examples, 3 classes), moving job to queued state',
      'Fine-tuning job started',
    ]);
    assert.match(events[4]!, /^Computed glove-100d features of the training file \(240 × 100, \d+ tokens\)$/);
    assert.equal(events.filter((m) => m.startsWith('Epoch ')).length, 12);
    assert.match(
      events.at(-3)!,
      /^Epoch 12\/12, step 144: train loss [\d.]+, train accuracy [\d.]+, valid loss [\d.]+, valid accuracy [\d.]+$/,
    );
    assert.deepEqual(events.slice(-2), [`New fine-tuned model created: ${job.fine_tuned_model}`, 'The job has successfully completed']);

    const checkpoints = [];
    for await (const c of client.fineTuning.jobs.checkpoints.list(job.id)) checkpoints.push(c);
    assert.equal(checkpoints[0]!.fine_tuned_model_checkpoint, `${job.fine_tuned_model}:ckpt-step-144`);
    assert.equal(checkpoints[0]!.fine_tuning_job_id, job.id);
    assert.deepEqual(Object.keys(checkpoints[0]!.metrics).sort(), [
      'full_valid_loss',
      'full_valid_mean_token_accuracy',
      'step',
      'train_loss',
      'train_mean_token_accuracy',
      'valid_loss',
      'valid_mean_token_accuracy',
    ]);

    const metrics = (await request(t.server).get(`/v1/fine_tuning/jobs/${job.id}/metrics`)).body;
    // One checkpoint an epoch was written; the last three and the best by valid loss are kept (the defaults).
    const epochs = metrics.epochs as Array<{ step: number; valid_loss: number }>;
    const best = epochs.reduce((b, e) => (e.valid_loss < b.valid_loss ? e : b));
    assert.deepEqual(
      checkpoints.map((c) => c.step_number),
      [...new Set([144, 132, 120, best.step])].sort((x, y) => y - x),
    );
    const stored = await adminQuery(t.db.url, `SELECT id FROM artifacts WHERE job_id = $1 AND kind = 'checkpoint' ORDER BY id`, [job.id]);
    assert.deepEqual(
      stored.rows.map((r) => r.id),
      checkpoints.map((c) => (c as unknown as { artifact_id: string }).artifact_id).sort(),
    );
    assert.equal(metrics.object, 'fine_tuning.job.metrics');
    assert.deepEqual(
      metrics.steps.map((s: { step: number }) => s.step),
      Array.from({ length: 144 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      metrics.epochs.map((e: { epoch: number }) => e.epoch),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    assert.deepEqual(metrics.final, job.metrics);
    assert.ok(metrics.epochs[11].train_loss < metrics.epochs[0].train_loss, 'the loss goes down');

    const results = await client.files.content(job.result_files[0]!);
    const csv = (await results.text()).trim().split('\n');
    assert.equal(csv[0], 'step,epoch,train_loss,learning_rate,train_accuracy,valid_loss,valid_accuracy');
    assert.equal(csv.length, 145);
  });

  it('streams the events as Server-Sent Events ending in [DONE]', async () => {
    const res = await readEventStream(t.server, `/v1/fine_tuning/jobs/${job.id}/events?stream=true`);
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^text\/event-stream/);
    const frames = parseEventStream(res.text);
    assert.deepEqual(frames[0], { retry: '1000' });
    assert.deepEqual(frames.at(-1), { data: '[DONE]' });
    const events = frames.slice(1, -1).map((f) => ({ sseId: f.id, ...(JSON.parse(f.data!) as { id: string; message: string }) }));
    assert.equal(events[0]!.message, `Created fine-tuning job: ${job.id}`);
    assert.deepEqual(
      events.map((e) => e.message),
      await eventMessages(t.server, job.id),
    );
    assert.deepEqual(
      events.map((e) => e.sseId),
      events.map((e) => e.id),
    );
  });

  it("resumes a stream after Last-Event-ID, and answers 400 for an id that is not one of the job's events", async () => {
    const all = dataFrames((await readEventStream(t.server, `/v1/fine_tuning/jobs/${job.id}/events?stream=true`)).text);
    const ids = all.slice(0, -1).map((f) => f.id!);
    assert.ok(ids.length > 10, `${ids.length} events`);
    for (const at of [0, 5, ids.length - 1]) {
      const res = await readEventStream(t.server, `/v1/fine_tuning/jobs/${job.id}/events?stream=true`, { 'last-event-id': ids[at]! });
      assert.equal(res.status, 200);
      assert.deepEqual(dataFrames(res.text), all.slice(at + 1), `after event ${at}`);
    }
    for (const bad of ['ftevent-000000000000000000000000', 'nonsense', ids[0]!.toUpperCase()]) {
      const res = await request(t.server).get(`/v1/fine_tuning/jobs/${job.id}/events?stream=true`).set('Last-Event-ID', bad);
      assert.equal(res.status, 400, bad);
      assert.deepEqual(res.body.error, {
        code: 'VALIDATION_FAILED',
        message: `Last-Event-ID "${bad}" names no event of job "${job.id}"`,
        type: 'invalid_request_error',
        param: null,
      });
    }
  });

  it('stores the head as an ONNX artifact with its sha256 and registers the model (with NOTIFY)', async () => {
    const res = await request(t.server)
      .get(`/v1/artifacts/${job.head_artifact_id}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/onnx');
    const bytes = res.body as Buffer;
    const sha = createHash('sha256').update(bytes).digest();
    assert.equal(res.headers['x-content-sha256'], sha.toString('hex'));
    assert.equal(res.headers.digest, `sha-256=${sha.toString('base64')}`);
    assert.equal(Number(res.headers['content-length']), bytes.length);

    const models = t.app.get(FineTunedModelsService);
    const listed = await models.listFineTunedModels();
    assert.deepEqual(
      listed.map((m) => m.name),
      [job.fine_tuned_model],
    );
    const model = (await models.getFineTunedModel(job.fine_tuned_model!))!;
    assert.ok(model.headOnnx.equals(bytes));
    assert.equal(model.headSha256, sha.toString('hex'));
    assert.deepEqual(
      { ...model, headOnnx: undefined, createdAt: undefined, backboneSha256: undefined, datasetSha256: undefined },
      {
        name: job.fine_tuned_model,
        jobId: job.id,
        backbone: 'glove-100d',
        backboneVersion: '1',
        backboneSha256: undefined,
        datasetSha256: undefined,
        headArtifactId: job.head_artifact_id,
        headSha256: sha.toString('hex'),
        task: 'text-classification',
        labels: ['animals', 'finance', 'weather'],
        inputDim: 100,
        outputDim: 3,
        metrics: job.metrics,
        headOnnx: undefined,
        createdAt: undefined,
      },
    );
    assert.match(model.backboneSha256, /^[0-9a-f]{64}$/);
    await waitFor(async () => (notified.length > 0 ? true : undefined), 5_000, 'the NOTIFY');
    assert.deepEqual(notified, [`lathe_models:${job.fine_tuned_model}`]);
    assert.equal(await models.getFineTunedModel('ft:glove-100d:nope:ftjob-x'), undefined);
  });

  it('the exported head classifies new sentences from the backbone embeddings', async () => {
    const model = (await t.app.get(FineTunedModelsService).getFineTunedModel(job.fine_tuned_model!))!;
    const texts = [
      'a hungry wolf hides in the woods',
      'bond yields climbed after the rate decision',
      'expect snow and strong winds tonight in the mountains',
    ];
    const embedded = await client.embeddings.create({ model: 'glove-100d', input: texts });
    const features = Float32Array.from(embedded.data.flatMap((d) => d.embedding));
    const session = await ort.InferenceSession.create(model.headOnnx);
    try {
      const out = await session.run({ features: new ort.Tensor('float32', features, [3, 100]) });
      const predicted = Array.from(out.prediction!.data as BigInt64Array, (i) => model.labels![Number(i)]);
      assert.deepEqual(predicted, ['animals', 'finance', 'weather']);
    } finally {
      await session.release();
    }
  });

  it('is served at once: /v1/text/classify reaches the held-out accuracy through the API, and /v2 names its lineage', async () => {
    const trainTexts = new Set(topicExamples(80).map((e) => e.text));
    // Sentences from another seed that the job never saw.
    const heldOut = topicExamples(40, 99).filter((e) => !trainTexts.has(e.text));
    assert.ok(heldOut.length >= 60, `${heldOut.length} held-out sentences`);
    const res = await request(t.server)
      .post('/v1/text/classify')
      .send({ model: job.fine_tuned_model, inputs: heldOut.map((e) => e.text) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const predicted = (res.body as Array<Array<{ label: string; score: number }>>).map((p) => p[0]!.label);
    const accuracy = predicted.filter((label, i) => label === heldOut[i]!.label).length / heldOut.length;
    assert.ok(accuracy >= 0.85, `accuracy through /v1/text/classify ${accuracy}`);
    const metadata = await request(t.server).get(`/v2/models/${job.fine_tuned_model}`);
    assert.equal(metadata.status, 200);
    const model = (await t.app.get(FineTunedModelsService).getFineTunedModel(job.fine_tuned_model!))!;
    assert.deepEqual(metadata.body.parameters, {
      task: 'text-classification',
      license: 'unknown',
      max_batch_size: 64,
      lineage_job: job.id,
      lineage_backbone_version: '1',
      lineage_backbone_sha256: model.backboneSha256,
      lineage_dataset_sha256: model.datasetSha256,
      lineage_artifact_id: job.head_artifact_id,
      lineage_artifact_sha256: model.headSha256,
      execution_provider: 'cpu',
      instances: 1,
    });
  });

  it('a second job on the same data reuses the cached features; a succeeded job cannot be cancelled (409)', async () => {
    const second = await client.fineTuning.jobs.create({
      model: 'glove-100d',
      training_file: trainingFile,
      seed: 1,
      hyperparameters: { n_epochs: 1 },
    });
    await waitForStatus(t.server, second.id, ['succeeded'], 30_000);
    const messages = await eventMessages(t.server, second.id);
    assert.ok(messages.includes('Reused cached glove-100d features of the training file (240 × 100)'), messages.join('\n'));
    assert.equal(await count(t, 'fine_tuning_features'), 1);
    assert.equal((await getJob(t.server, second.id)).fine_tuned_model, `ft:glove-100d::${second.id}`);

    const cancel = await request(t.server).post(`/v1/fine_tuning/jobs/${job.id}/cancel`);
    assert.equal(cancel.status, 409);
    assert.deepEqual(cancel.body.error, {
      code: 'CONFLICT',
      message: `job ${job.id} is succeeded; only a job that is validating_files, queued, running can be cancelled`,
      type: 'invalid_request_error',
      param: null,
      details: { status: 'succeeded' },
    });

    const page = await client.fineTuning.jobs.list({ limit: 1 });
    assert.deepEqual(
      page.data.map((j) => j.id),
      [second.id],
    );
    assert.equal(page.has_more, true);
    const all = [];
    for await (const j of client.fineTuning.jobs.list({ limit: 1 })) all.push(j.id);
    assert.deepEqual(all, [second.id, job.id]);
  });

  it('a file that a job is using cannot be deleted until the job finishes', async () => {
    const file = ((await uploadFile(t.server, jsonl(topicExamples(20)))).body as FileBody).id;
    const slow = await client.fineTuning.jobs.create({
      model: 'glove-100d',
      training_file: file,
      hyperparameters: { n_epochs: 1000, batch_size: 1 },
    });
    const busy = await request(t.server).delete(`/v1/files/${file}`);
    assert.equal(busy.status, 409);
    await client.fineTuning.jobs.cancel(slow.id);
    assert.equal((await request(t.server).delete(`/v1/files/${file}`)).status, 200);
  });

  it('no artifact row exists without its bytes', async () => {
    const { rows } = await adminQuery(
      t.db.url,
      `SELECT count(*)::int AS n FROM artifacts WHERE content IS NULL OR octet_length(content) <> bytes OR encode(sha256(content), 'hex') <> sha256`,
    );
    assert.equal(rows[0].n, 0);
  });
});

describe('fine-tuning jobs: cancel', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('a running job stops within one run, ends cancelled, says so, and registers no model', async () => {
    const file = ((await uploadFile(t.server, jsonl(topicExamples(40)))).body as FileBody).id;
    const created = await request(t.server)
      .post('/v1/fine_tuning/jobs')
      .send({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 1000, batch_size: 1 } });
    assert.equal(created.status, 200, created.text);
    const id = created.body.id as string;
    await waitFor(
      async () => {
        const res = await request(t.server).get(`/v1/fine_tuning/jobs/${id}/checkpoints`);
        return res.body.data.length >= 2 ? true : undefined;
      },
      30_000,
      'two checkpoints',
    );
    const cancel = await request(t.server).post(`/v1/fine_tuning/jobs/${id}/cancel`);
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.status, 'cancelled');
    assert.equal(cancel.body.fine_tuned_model, null);
    const stopped = await waitFor(
      async () => (await eventMessages(t.server, id)).find((m) => m.startsWith('Training stopped')),
      10_000,
      'the stop event',
    );
    assert.match(stopped, /^Training stopped at step \d+ \(epoch \d+\): the job was cancelled; no model was registered$/);
    const job = await getJob(t.server, id);
    assert.equal(job.status, 'cancelled');
    assert.equal(job.fine_tuned_model, null);
    assert.equal(await count(t, 'fine_tuned_models'), 0);
    // The stop event is written once the training worker has ended: the history ends where it says.
    const steps = (await request(t.server).get(`/v1/fine_tuning/jobs/${id}/metrics`)).body.steps as Array<{ step: number }>;
    assert.equal(steps.at(-1)!.step, Number(/at step (\d+)/.exec(stopped)![1]));
    const again = await request(t.server).post(`/v1/fine_tuning/jobs/${id}/cancel`);
    assert.equal(again.status, 409);
  });

  it('a queued job is cancelled before it runs', async () => {
    const file = ((await uploadFile(t.server, jsonl(topicExamples(10)))).body as FileBody).id;
    const ids: string[] = [];
    // The replica runs one job at a time: the second waits in the queue.
    for (let i = 0; i < 2; i += 1)
      ids.push(
        (
          await request(t.server)
            .post('/v1/fine_tuning/jobs')
            .send({ model: 'glove-100d', training_file: file, hyperparameters: { n_epochs: 1000, batch_size: 1 } })
        ).body.id,
      );
    await waitForStatus(t.server, ids[0]!, ['running'], 10_000);
    const res = await request(t.server).post(`/v1/fine_tuning/jobs/${ids[1]}/cancel`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'cancelled');
    await request(t.server).post(`/v1/fine_tuning/jobs/${ids[0]}/cancel`);
    await waitFor(
      async () => ((await eventMessages(t.server, ids[0]!)).some((m) => m.startsWith('Training stopped')) ? true : undefined),
      10_000,
      'the first job to stop',
    );
    assert.deepEqual(await eventMessages(t.server, ids[1]!), [
      `Created fine-tuning job: ${ids[1]}`,
      `Validating training file: ${file}`,
      'Files validated (30 examples, 3 classes), moving job to queued state',
      'Fine-tuning job cancelled by request',
    ]);
  });
});

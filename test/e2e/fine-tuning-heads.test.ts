import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { FineTunedModelsService } from '../../src/fine-tuning/models/fine-tuned-models.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  dataFrames,
  eventMessages,
  type FileBody,
  jsonl,
  readEventStream,
  topicExamples,
  uploadFile,
  waitForStatus,
} from '../support/fine-tuning.js';

/** Heads and losses beyond the linear classifier, failures, and the live event stream. */
describe('fine-tuning: regression, mlp heads, failures, live events', () => {
  let t: TestApp;
  const create = (body: object) => request(t.server).post('/v1/fine_tuning/jobs').send(body);

  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('regression: targets train with mse and register a text-regression model', async () => {
    const score: Record<string, number> = { animals: -1, finance: 0, weather: 1 };
    const lines = topicExamples(40).map(({ text, label }) => ({ text, target: score[label]! }));
    const file = (await uploadFile(t.server, jsonl(lines))).body as FileBody;
    assert.equal(file.validation.task, 'regression');
    assert.equal(file.validation.target_dim, 1);
    const res = await create({
      model: 'glove-100d',
      training_file: file.id,
      suffix: 'score',
      hyperparameters: { n_epochs: 30, batch_size: 8, learning_rate: 0.05 },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.hyperparameters.loss, 'mse');
    const job = await waitForStatus(t.server, res.body.id, ['succeeded', 'failed'], 60_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.ok(job.metrics!.valid_mse !== undefined && (job.metrics!.valid_mse as number) < 0.2, JSON.stringify(job.metrics));
    assert.equal(job.metrics!.valid_accuracy, undefined);
    const model = (await t.app.get(FineTunedModelsService).getFineTunedModel(job.fine_tuned_model!))!;
    assert.equal(model.task, 'text-regression');
    assert.equal(model.labels, null);
    assert.equal(model.outputDim, 1);
  });

  it('an mlp head with momentum and a cosine schedule, followed live over Server-Sent Events', async () => {
    const file = ((await uploadFile(t.server, jsonl(topicExamples(40)))).body as FileBody).id;
    const res = await create({
      model: 'glove-100d',
      training_file: file,
      metadata: { team: 'search' },
      hyperparameters: {
        n_epochs: 15,
        batch_size: 8,
        head: 'mlp',
        hidden: 32,
        activation: 'gelu',
        dropout: 0.1,
        optimizer: 'momentum',
        schedule: 'cosine',
        warmup_steps: 5,
        weight_decay: 0.001,
      },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.hyperparameters, {
      n_epochs: 15,
      batch_size: 8,
      learning_rate_multiplier: 1,
      head: 'mlp',
      hidden: 32,
      activation: 'gelu',
      dropout: 0.1,
      loss: 'cross-entropy',
      optimizer: 'momentum',
      momentum: 0.9,
      learning_rate: 0.05,
      schedule: 'cosine',
      warmup_steps: 5,
      weight_decay: 0.001,
      validation_split: 0.2,
    });
    const stream = await readEventStream(t.server, `/v1/fine_tuning/jobs/${res.body.id}/events?stream=true`);
    assert.equal(stream.status, 200);
    assert.match(stream.contentType, /^text\/event-stream/);
    const frames = dataFrames(stream.text);
    assert.deepEqual(frames.at(-1), { data: '[DONE]' });
    const streamed = frames
      .slice(0, -1)
      .map((f) => ({ sseId: f.id, ...(JSON.parse(f.data) as { id: string; message: string; type: string }) }));
    // Each frame's SSE id is its event's id: what a reconnecting client sends back as Last-Event-ID.
    assert.deepEqual(
      streamed.map((e) => e.sseId),
      streamed.map((e) => e.id),
    );
    assert.equal(streamed.at(-1)!.message, 'The job has successfully completed');
    assert.equal(streamed.filter((e) => e.type === 'metrics').length, 15);
    assert.deepEqual(
      streamed.map((e) => e.message),
      await eventMessages(t.server, res.body.id),
    );
    const job = (await request(t.server).get(`/v1/fine_tuning/jobs/${res.body.id}`)).body;
    assert.equal(job.status, 'succeeded');
    assert.ok(job.metrics.valid_accuracy >= 0.85, JSON.stringify(job.metrics));

    const filtered = await request(t.server).get('/v1/fine_tuning/jobs?metadata[team]=search');
    assert.deepEqual(
      filtered.body.data.map((j: { id: string }) => j.id),
      [res.body.id],
    );
    assert.deepEqual((await request(t.server).get('/v1/fine_tuning/jobs?metadata[team]=ads')).body.data, []);
  });

  it('a validation file gives the held-out metrics; early stopping ends the run when they stop improving', async () => {
    // Every seventh training label is wrong: an mlp that memorises them does worse on held-out data.
    const labels = ['animals', 'finance', 'weather'];
    const noisy = topicExamples(40, 1).map((e, i) => (i % 7 === 0 ? { ...e, label: labels[(labels.indexOf(e.label) + 1) % 3]! } : e));
    const training = ((await uploadFile(t.server, jsonl(noisy))).body as FileBody).id;
    const validation = ((await uploadFile(t.server, jsonl(topicExamples(10, 99)))).body as FileBody).id;
    const res = await create({
      model: 'glove-100d',
      training_file: training,
      validation_file: validation,
      hyperparameters: { n_epochs: 500, batch_size: 8, head: 'mlp', hidden: 64, learning_rate: 0.02, early_stopping_patience: 3 },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.validation_file, validation);
    assert.equal(res.body.hyperparameters.validation_split, 0);
    const job = await waitForStatus(t.server, res.body.id, ['succeeded', 'failed'], 60_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.metrics!.stopped, 'early-stopping');
    assert.ok((job.metrics!.epochs as number) < 500);
    assert.equal(job.metrics!.epochs, (job.metrics!.best_epoch as number) + 3);
    assert.ok(job.metrics!.valid_accuracy! >= 0.85, JSON.stringify(job.metrics));
    const history = (await request(t.server).get(`/v1/fine_tuning/jobs/${res.body.id}/metrics`)).body;
    const best = history.epochs.find((e: { epoch: number }) => e.epoch === job.metrics!.best_epoch);
    assert.equal(best.valid_loss, job.metrics!.valid_loss, 'the kept weights are those of the best epoch');
  });

  it('a run that diverges fails with a clear error and registers nothing', async () => {
    const lines = topicExamples(20).map(({ text }, i) => ({ text, target: [1e30 * (i % 3), -1e30] }));
    const file = ((await uploadFile(t.server, jsonl(lines))).body as FileBody).id;
    const res = await create({
      model: 'glove-100d',
      training_file: file,
      hyperparameters: { n_epochs: 50, optimizer: 'sgd', learning_rate: 10 },
    });
    assert.equal(res.status, 200, res.text);
    const job = await waitForStatus(t.server, res.body.id, ['succeeded', 'failed'], 30_000);
    assert.equal(job.status, 'failed');
    assert.equal(job.error!.code, 'training_diverged');
    assert.match(job.error!.message, /^training diverged: the loss is (NaN|Infinity) at step \d+; lower the learning rate$/);
    assert.equal(job.fine_tuned_model, null);
    const messages = await eventMessages(t.server, res.body.id);
    assert.equal(messages.at(-1), `Fine-tuning job failed: ${job.error!.message}`);
    const cancel = await request(t.server).post(`/v1/fine_tuning/jobs/${res.body.id}/cancel`);
    assert.equal(cancel.status, 409);
  });
});

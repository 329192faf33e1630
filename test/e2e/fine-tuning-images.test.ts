import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { drawPng, type Strokes } from '../support/drawings.js';
import { type FileBody, jsonl, uploadFile, waitForStatus } from '../support/fine-tuning.js';
import { random } from '../support/models.js';

/** Shapes a person might draw, each a little different: offset, size and wobble from a seeded generator. */
function drawing(kind: 'tick' | 'zigzag' | 'box', rand: () => number): Strokes {
  const j = (v: number) => v + (rand() - 0.5) * 24;
  if (kind === 'tick')
    return [
      [
        [j(40), j(110)],
        [j(85), j(160)],
        [j(165), j(45)],
      ],
    ];
  if (kind === 'zigzag')
    return [
      [
        [j(25), j(60)],
        [j(70), j(140)],
        [j(110), j(60)],
        [j(150), j(140)],
        [j(180), j(60)],
      ],
    ];
  return [
    [
      [j(45), j(45)],
      [j(155), j(45)],
      [j(155), j(155)],
      [j(45), j(155)],
      [j(45), j(45)],
    ],
  ];
}

const KINDS = ['tick', 'zigzag', 'box'] as const;

async function examples(perKind: number, seed: number): Promise<Array<{ image: string; label: string }>> {
  const rand = random(seed);
  const out: Array<{ image: string; label: string }> = [];
  for (let i = 0; i < perKind; i += 1) {
    for (const kind of KINDS)
      out.push({ image: (await drawPng(drawing(kind, rand), { width: 6 + rand() * 6 })).toString('base64'), label: kind });
  }
  return out;
}

/** A head trained on an image backbone's features: the math-symbol classifier's 411 scores. */
describe('fine-tuning on an image backbone (math-symbols)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('learns drawn shapes the backbone has no class for, and /v1/vision/classify serves the result at once', async () => {
    const upload = await uploadFile(t.server, jsonl(await examples(24, 1)), 'shapes.jsonl');
    assert.equal(upload.status, 200, upload.text);
    const file = upload.body as FileBody;
    assert.equal(file.validation.examples, 72);
    const created = await request(t.server)
      .post('/v1/fine_tuning/jobs')
      .send({
        model: 'math-symbols',
        training_file: file.id,
        suffix: 'shapes',
        seed: 3,
        hyperparameters: { n_epochs: 40, batch_size: 8, learning_rate: 0.01, validation_split: 0.25 },
      });
    assert.equal(created.status, 200, created.text);
    const job = await waitForStatus(t.server, created.body.id, ['succeeded', 'failed', 'cancelled'], 120_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    const name = `ft:math-symbols:shapes:${created.body.id}`;
    assert.equal(job.fine_tuned_model, name);

    const heldOut = await examples(8, 77);
    const res = await request(t.server)
      .post('/v1/vision/classify')
      .send({ model: name, images: heldOut.map((e) => e.image), top_k: 1 });
    assert.equal(res.status, 200, res.text);
    const predicted = (res.body as Array<Array<{ label: string; score: number }>>).map((p) => p[0]!.label);
    const accuracy = predicted.filter((label, i) => label === heldOut[i]!.label).length / heldOut.length;
    assert.ok(accuracy >= 0.85, `held-out accuracy ${accuracy}: ${JSON.stringify(predicted)}`);
    const listed = await request(t.server).get(`/v1/models/${name}`);
    assert.equal(listed.body.task, 'image-classification');
  });
});

import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { makeModelRepository } from '../support/models.js';
import { ROOT } from '../support/processes.js';

const KNOWN =
  'audio-classification, audio-regression, automatic-speech-recognition, feature-extraction, image-classification, image-regression, keyword-spotting, object-detection, question-answering, sentence-similarity, summarization, text-classification, text-detection, text-generation, text-orientation, text-recognition, text-regression, text-to-speech, text2text-generation, token-classification, translation, voice-activity-detection';

describe('model repository: the manifest task comes from the task table', () => {
  let t: TestApp;
  let modelsDir: string;
  before(async () => {
    // Silero VAD's own manifest, loadable weights and all, under a task no row describes.
    const silero = JSON.parse(await readFile(join(ROOT, 'models', 'silero-vad', '1', 'model.json'), 'utf8'));
    modelsDir = await makeModelRepository(['silero-vad'], { mystery: { ...silero, task: 'image-segmentation' } });
    t = await startTestApp({ LATHE_MODELS_DIR: modelsDir });
  });
  after(async () => {
    await t?.close();
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  });

  it('refuses to load a manifest with an unknown task, naming the known tasks; the others load', async () => {
    const reason = `bad manifest: ${join(modelsDir, 'mystery', '1', 'model.json')}: task: unknown task "image-segmentation"; the known tasks are ${KNOWN}`;
    const load = await request(t.server).post('/v2/repository/models/mystery/load');
    assert.equal(load.status, 503);
    assert.deepEqual(load.body, { error: `model "mystery" version 1 cannot load: ${reason}` });
    await request(t.server).post('/v2/repository/models/silero-vad/load').expect(200);
    const index = await request(t.server).post('/v2/repository/index').send({});
    assert.equal(index.status, 200);
    assert.deepEqual(index.body, [
      { name: 'mystery', version: '1', state: 'UNAVAILABLE', reason },
      { name: 'silero-vad', version: '1', state: 'READY', reason: '' },
    ]);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { DRAWINGS, drawPng } from '../support/drawings.js';
import { wavFile } from '../support/speech-audio.js';

/** Requests that can never succeed (more inputs than can ever be queued) are 413, not 429 on an idle server. */
describe('too many inputs in one request', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  const expect413 = (res: request.Response, message: string, limit: number, got: number) => {
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assert.equal(res.headers['retry-after'], undefined);
    assert.deepEqual(res.body, {
      error: { code: 'TOO_MANY_INPUTS', message, type: 'invalid_request_error', param: null, details: { limit, got } },
      requestId: res.headers['x-request-id'],
    });
  };

  it('9 audio files: 413 naming LATHE_AUDIO_DECODERS, on an idle server, every time', async () => {
    const audio = Buffer.from(wavFile(new Float32Array(1600))).toString('base64');
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await request(t.server)
        .post('/v1/speech/vad')
        .send({ audios: Array(9).fill(audio) });
      expect413(res, '9 audio files in one request; at most 8 (LATHE_AUDIO_DECODERS=4: 4 decode at once and 4 more may wait)', 8, 9);
    }
    const eight = await request(t.server)
      .post('/v1/speech/vad')
      .send({ audios: Array(8).fill(audio) });
    assert.equal(eight.status, 200, JSON.stringify(eight.body));
    assert.equal(eight.body.length, 8);
  });

  it('more images than the model queues: 413 before any decode or model run', async () => {
    const stats = async () => (await request(t.server).get('/v2/models/math-symbols/stats')).body.model_stats[0].inference_count as number;
    const image = (await drawPng(DRAWINGS[0]!.strokes)).toString('base64');
    const one = await request(t.server)
      .post('/v1/vision/classify')
      .send({ model: 'math-symbols', images: [image] });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    const before = await stats();
    const res = await request(t.server)
      .post('/v1/vision/classify')
      .send({ model: 'math-symbols', images: Array(129).fill(image) });
    expect413(res, '129 images in one request; at most 128 (model "math-symbols" queues 128 runs)', 128, 129);
    assert.equal(await stats(), before, 'no image was run');
    const ocr = await request(t.server)
      .post('/v1/vision/ocr')
      .send({ images: Array(300).fill(image) });
    assert.equal(ocr.status, 413, JSON.stringify(ocr.body));
    assert.equal(ocr.body.error.code, 'TOO_MANY_INPUTS');
  });
});

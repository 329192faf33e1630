import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { blackBitmapPng } from '../support/media.js';
import { OCR_LAYOUTS, renderOcrCases } from '../support/ocr-images.js';

const blank = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .png({ compressionLevel: 1 })
    .toBuffer();

const errorBody = (res: request.Response, code: string, message: string) => ({
  error: { code, message, type: 'invalid_request_error', param: null },
  requestId: res.headers['x-request-id'],
});

describe('image decode budget and OCR work per image', () => {
  let t: TestApp;
  before(async () => {
    // Defaults for the image limits (16384 pixels a side, 64:1); two OCR lines per image; a detector
    // cap below the default max_side (960), which requests that do not ask for a side then get.
    t = await startTestApp({ LATHE_OCR_MAX_LINES: '2', LATHE_OCR_MAX_SIDE: '640' });
    // Loads the three OCR models, so the timed refusal below measures the refusal alone.
    const warm = await request(t.server)
      .post('/v1/vision/ocr')
      .set('content-type', 'image/png')
      .send(await blank(64, 64));
    assert.equal(warm.status, 200);
  });
  after(() => t.close());

  it('refuses a 1 x 49,000,000 PNG (under the pixel limit) from its header, before decoding it', async () => {
    const png = blackBitmapPng(1, 49_000_000);
    assert.ok(png.length < 200_000, `${png.length} bytes`);
    const started = performance.now();
    const res = await request(t.server).post('/v1/vision/ocr').set('content-type', 'image/png').send(png);
    const elapsed = performance.now() - started;
    assert.equal(res.status, 413);
    assert.deepEqual(
      res.body,
      errorBody(res, 'MEDIA_TOO_LARGE', 'body is 1 x 49000000; its longer side is 49000000 pixels, the limit is 16384'),
    );
    // Decoding it took 22-30 s of OCR; a header read is milliseconds. Generous for a loaded machine.
    assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms`);
  });

  it('reads an image exactly at the side and aspect-ratio limits, and refuses one pixel past either', async () => {
    const atLimits = await request(t.server)
      .post('/v1/vision/ocr')
      .set('content-type', 'image/png')
      .send(await blank(16_384, 256));
    assert.equal(atLimits.status, 200, JSON.stringify(atLimits.body));
    assert.deepEqual(atLimits.body, { model: 'paddleocr-rec', version: '1', width: 16_384, height: 256, lines: [], text: '' });

    const longer = await request(t.server)
      .post('/v1/vision/ocr')
      .set('content-type', 'image/png')
      .send(await blank(16_385, 512));
    assert.equal(longer.status, 413);
    assert.deepEqual(
      longer.body,
      errorBody(longer, 'MEDIA_TOO_LARGE', 'body is 16385 x 512; its longer side is 16385 pixels, the limit is 16384'),
    );

    const thinner = await request(t.server)
      .post('/v1/vision/classify?model=math-symbols')
      .set('content-type', 'image/png')
      .send(await blank(10, 641));
    assert.equal(thinner.status, 413);
    assert.deepEqual(
      thinner.body,
      errorBody(thinner, 'MEDIA_TOO_LARGE', 'body is 10 x 641; its aspect ratio is 64.1:1, the limit is 64:1'),
    );
  });

  it('reads at most LATHE_OCR_MAX_LINES lines of an image, the first ones in reading order', async () => {
    const layout = OCR_LAYOUTS.find((l) => l.name === 'paragraph-sans-tight')!;
    assert.equal(layout.lines.length, 3);
    const [page] = await renderOcrCases([layout]);
    const res = await request(t.server).post('/v1/vision/ocr').set('content-type', 'image/png').send(page!.png);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const body = res.body as { lines: Array<{ text: string }>; text: string };
    assert.deepEqual(
      body.lines.map((l) => l.text),
      layout.lines.slice(0, 2),
    );
    assert.equal(body.text, layout.lines.slice(0, 2).join('\n'));
  });

  it('refuses a detector side above LATHE_OCR_MAX_SIDE, and reads at one equal to it', async () => {
    const res = await request(t.server)
      .post('/v1/vision/ocr?max_side=672')
      .set('content-type', 'image/png')
      .send(await blank(64, 64));
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, errorBody(res, 'VALIDATION_FAILED', "max_side 672 is above this server's limit of 640"));
    const atCap = await request(t.server)
      .post('/v1/vision/ocr?max_side=640')
      .set('content-type', 'image/png')
      .send(await blank(64, 64));
    assert.equal(atCap.status, 200);
    assert.deepEqual(atCap.body, { model: 'paddleocr-rec', version: '1', width: 64, height: 64, lines: [], text: '' });
  });
});

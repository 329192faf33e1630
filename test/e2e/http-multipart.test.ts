import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';

const ROUTES = ['/v1/vision/classify', '/v1/vision/detect', '/v1/vision/ocr', '/v1/speech/vad', '/v1/audio/transcriptions', '/v1/files'];

const part = (boundary: string) =>
  `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n` +
  `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\ncontent-type: application/octet-stream\r\n\r\n0123456789\r\n`;

const MALFORMED: Array<{ name: string; contentType: string; body: string; message: string }> = [
  {
    name: 'no closing boundary',
    contentType: 'multipart/form-data; boundary=XyZ',
    body: part('XyZ'),
    message: 'the multipart body cannot be read: Part terminated early due to unexpected end of multipart data',
  },
  {
    name: 'a different boundary than the header names',
    contentType: 'multipart/form-data; boundary=XyZ',
    body: `${part('Other')}--Other--\r\n`,
    message: 'the multipart body cannot be read: Unexpected end of multipart data',
  },
  {
    name: 'not multipart at all',
    contentType: 'multipart/form-data; boundary=XyZ',
    body: '{"image": "aGVsbG8="}',
    message: 'the multipart body cannot be read: Unexpected end of multipart data',
  },
  {
    name: 'no boundary in the header',
    contentType: 'multipart/form-data',
    body: `${part('XyZ')}--XyZ--\r\n`,
    message: 'the multipart body cannot be read: Multipart: Boundary not found',
  },
  {
    name: 'a part whose headers never end',
    contentType: 'multipart/form-data; boundary=XyZ',
    body: `--XyZ\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\n${'x'.repeat(20_000)}`,
    message: 'the multipart body cannot be read: Unexpected end of multipart data',
  },
];

describe('malformed multipart bodies on the media and upload routes', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('a form field over 1 MiB is 413, not silently cut', async () => {
    const res = await request(t.server)
      .post('/v1/vision/classify')
      .field('model', 'x'.repeat(1024 * 1024 + 1))
      .attach('image', Buffer.alloc(10, 1), 'a.png');
    assert.equal(res.status, 413);
    assert.deepEqual(res.body, {
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'form field "model" is longer than 1048576 bytes',
        type: 'invalid_request_error',
        param: null,
        details: { limit: 1048576 },
      },
      requestId: res.headers['x-request-id'],
    });
  });

  for (const route of ROUTES) {
    for (const c of MALFORMED) {
      it(`${route}: ${c.name} is 400 MALFORMED_MULTIPART`, async () => {
        const res = await request(t.server).post(route).set('content-type', c.contentType).send(c.body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.deepEqual(res.body, {
          error: { code: 'MALFORMED_MULTIPART', message: c.message, type: 'invalid_request_error', param: null },
          requestId: res.headers['x-request-id'],
        });
      });
    }
  }
});

describe('multipart files together bounded by the body limit', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ LATHE_BODY_LIMIT_BYTES: '1024' });
  });
  after(() => t.close());

  it('answers 413 when the files add up to more than the limit, each being under it', async () => {
    const res = await request(t.server)
      .post('/v1/vision/classify')
      .attach('a', Buffer.alloc(600, 1), 'a.png')
      .attach('b', Buffer.alloc(600, 2), 'b.png');
    assert.equal(res.status, 413);
    assert.deepEqual(res.body, {
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'the files of the form add up to more than the body limit of 1024 bytes',
        type: 'invalid_request_error',
        param: null,
        details: { limit: 1024 },
      },
      requestId: res.headers['x-request-id'],
    });
  });
});

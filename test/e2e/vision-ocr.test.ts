import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type OcrCase, type PixelBox, renderOcrCases } from '../support/ocr-images.js';

type Point = [number, number];
interface OcrBody {
  model: string;
  version: string;
  width: number;
  height: number;
  text: string;
  lines: Array<{ text: string; confidence: number; box: [Point, Point, Point, Point] }>;
}

/** How far, in pixels, a rendered text box may stick out of the line box returned for it. */
const BOX_TOLERANCE = 2;

/** Whether the convex box (clockwise on screen) holds the point, allowing `tolerance` pixels outside. */
function holds(box: OcrBody['lines'][number]['box'], [x, y]: Point, tolerance: number): boolean {
  return box.every(([x0, y0], i) => {
    const [x1, y1] = box[(i + 1) % 4]!;
    const length = Math.hypot(x1 - x0, y1 - y0);
    return length === 0 || ((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) / length >= -tolerance;
  });
}

const corners = (b: PixelBox): Point[] => [
  [b.x0, b.y0],
  [b.x1, b.y0],
  [b.x1, b.y1],
  [b.x0, b.y1],
];

describe('POST /v1/vision/ocr (PaddleOCR v4 through the runtime)', () => {
  let t: TestApp;
  let cases: OcrCase[];
  before(async () => {
    [t, cases] = await Promise.all([startTestApp(), renderOcrCases()]);
  });
  after(() => t.close());

  it('reads rendered text exactly (fonts, sizes, two lines, one upside down, digits, punctuation) and boxes every line around its ink', async () => {
    assert.ok(cases.length >= 20, `${cases.length} cases`);
    const misread: string[] = [];
    const problems: string[] = [];
    for (const c of cases) {
      const res = await request(t.server).post('/v1/vision/ocr').set('content-type', 'image/png').send(c.png);
      assert.equal(res.status, 200, `${c.name}: ${JSON.stringify(res.body)}`);
      const body = res.body as OcrBody;
      const expected = c.lines.map((l) => l.text).join('\n');
      if (body.text !== expected) misread.push(`${c.name}: read ${JSON.stringify(body.text)}, rendered ${JSON.stringify(expected)}`);
      assert.equal(body.text, body.lines.map((l) => l.text).join('\n'));
      if (body.lines.length !== c.lines.length) {
        problems.push(`${c.name}: ${body.lines.length} lines found, ${c.lines.length} rendered`);
        continue;
      }
      c.lines.forEach((line, i) => {
        const found = body.lines[i]!;
        if (!corners(line.bbox).every((p) => holds(found.box, p, BOX_TOLERANCE))) {
          problems.push(`${c.name} line ${i}: box ${JSON.stringify(found.box)} misses ink ${JSON.stringify(line.bbox)}`);
        }
        if (!(found.confidence >= 0.5 && found.confidence <= 1)) problems.push(`${c.name} line ${i}: confidence ${found.confidence}`);
      });
    }
    if (misread.length > 0) console.log(`misread ${misread.length} of ${cases.length}:\n  ${misread.join('\n  ')}`);
    assert.deepEqual(problems, []);
    assert.ok(
      cases.length - misread.length >= 18,
      `only ${cases.length - misread.length} of ${cases.length} read exactly:\n${misread.join('\n')}`,
    );
  });

  it('answers the image size, the model and its timing headers; a blank image has no lines', async () => {
    const blank = await sharp({ create: { width: 320, height: 120, channels: 3, background: '#fafafa' } })
      .png()
      .toBuffer();
    const res = await request(t.server).post('/v1/vision/ocr').set('content-type', 'image/png').send(blank);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { model: 'paddleocr-rec', version: '1', width: 320, height: 120, lines: [], text: '' });
    assert.equal(res.headers['x-model'], 'paddleocr-rec');
    assert.match(res.headers['server-timing']!, /^decode;dur=[\d.]+, queue;dur=[\d.]+, inference;dur=[\d.]+, total;dur=[\d.]+$/);
  });

  it('reads a batch of images, one result each, and applies EXIF orientation', async () => {
    const [first, second] = cases;
    const batch = await request(t.server)
      .post('/v1/vision/ocr')
      .send({ images: [first!.png.toString('base64'), second!.png.toString('base64')] });
    assert.equal(batch.status, 200);
    assert.deepEqual(
      (batch.body as OcrBody[]).map((b) => b.text),
      [first, second].map((c) => c!.lines.map((l) => l.text).join('\n')),
    );
    // The same picture stored turned a quarter clockwise, with EXIF orientation 8 (turn it back to view):
    // read upright, in the upright image's size.
    const { width, height } = await sharp(first!.png).metadata();
    const stored = await sharp(first!.png).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 95 }).toBuffer();
    const res = await request(t.server).post('/v1/vision/ocr').set('content-type', 'image/jpeg').send(stored);
    const body = res.body as OcrBody;
    assert.deepEqual([body.width, body.height], [width, height]);
    assert.equal(body.text, first!.lines.map((l) => l.text).join('\n'));
  });

  it('refuses a recognition model that is not one, and bad options', async () => {
    const png = cases[0]!.png;
    const wrong = await request(t.server).post('/v1/vision/ocr?model=paddleocr-det').set('content-type', 'image/png').send(png);
    assert.equal(wrong.status, 400);
    assert.match((wrong.body as { error: { message: string } }).error.message, /text-detection model; this route needs text-recognition/);
    const bad = await request(t.server).post('/v1/vision/ocr?min_confidence=2').set('content-type', 'image/png').send(png);
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
  });
});

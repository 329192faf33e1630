import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { Browser } from 'playwright-core';
import { endpointSpec, shapeKeys } from '../../src/common/openapi/endpoint-registry.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { CHROMIUM, launchChromium } from '../support/browser.js';

const noBrowser = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium); .ci/run installs it`;

describe('API docs', () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = await t.app.getUrl();
  });
  after(() => t.close());

  it('/docs-json is a valid OpenAPI 3 document, the same as the committed openapi.json', async () => {
    const document = (await (await fetch(`${base}/docs-json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(document.openapi, /^3\./);
    await SwaggerParser.validate(structuredClone(document) as never);
    for (const path of ['/health/live', '/health/ready', '/metrics', '/v1/auth/whoami', '/v1/instances']) {
      assert.ok(path in document.paths, `${path} documented`);
    }
    const responses = (document.paths['/v1/instances'] as { get: { responses: Record<string, { description: string }> } }).get.responses;
    assert.deepEqual(Object.keys(responses).sort(), ['200', '401', '403', '500', '503']);
    assert.match(responses['401']!.description, /`INVALID_API_KEY`: .* `MISSING_API_KEY`: /);
  });

  it("declares every query parameter a route's code can read: the keys of its zod query schema, and no other", async () => {
    const document = (await (await fetch(`${base}/docs-json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ in: string; name: string }> }>>;
    };
    const reading: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const declared = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        // The code sees exactly these (declaredQuery); a route without a schema sees none.
        const query = endpointSpec(op.operationId)?.query;
        assert.deepEqual(declared, query ? shapeKeys(query) : [], `${method} ${path}`);
        if (declared.length > 0) reading.push(`${method.toUpperCase()} ${path} ${declared.join(',')}`);
      }
    }
    assert.deepEqual(reading.sort(), [
      'GET /info model',
      'GET /test/slow ms',
      'GET /v1/files after,limit,order,purpose',
      'GET /v1/fine_tuning/jobs after,limit,metadata',
      'GET /v1/fine_tuning/jobs/{id}/checkpoints after,limit',
      'GET /v1/fine_tuning/jobs/{id}/events after,limit,stream',
      'POST /decode model',
      'POST /embed model',
      'POST /embed_all model',
      'POST /embed_sparse model',
      'POST /predict model',
      'POST /rerank model',
      'POST /tokenize model',
      'POST /v1/audio/transcriptions model,language,prompt,response_format,temperature,timestamp_granularities[]',
      'POST /v1/audio/translations model,prompt,response_format,temperature',
      'POST /v1/embeddings model',
      'POST /v1/speech/keywords model',
      'POST /v1/speech/vad model,threshold,neg_threshold,min_speech_duration_ms,min_silence_duration_ms,speech_pad_ms,max_speech_duration_s,return_probabilities',
      'POST /v1/text/classify model',
      'POST /v1/text/summarization model',
      'POST /v1/text/text2text model',
      'POST /v1/text/tokens model',
      'POST /v1/text/translation model',
      'POST /v1/vision/classify model,top_k',
      'POST /v1/vision/detect model,threshold,iou_threshold,max_detections,render',
      'POST /v1/vision/ocr model,min_confidence,max_side',
    ]);
  });

  it('serves Swagger UI that lists the operations in a real browser', { skip: noBrowser }, async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const consoleErrors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
      await page.goto(`${base}/docs`);
      await page.waitForSelector('.opblock-summary-path', { timeout: 15_000 });
      const operations = await page.$$eval('.opblock-summary', (els) =>
        els.map(
          (e) =>
            `${e.querySelector('.opblock-summary-method')?.textContent} ${e.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
        ),
      );
      for (const op of ['GET /health/live', 'GET /health/ready', 'GET /metrics', 'GET /v1/auth/whoami', 'GET /v1/instances']) {
        assert.ok(operations.includes(op), `${op} in ${JSON.stringify(operations)}`);
      }
      assert.equal(await page.title(), 'Lathe API');
      assert.deepEqual(consoleErrors, [], 'no script or CSP errors');
    } finally {
      await browser?.close();
    }
  });
});

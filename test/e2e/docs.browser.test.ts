import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { chromium, type Browser } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';

const CHROMIUM = '/usr/bin/chromium';
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

  it('serves Swagger UI that lists the operations in a real browser', { skip: noBrowser }, async () => {
    // playwright-core makes (and removes) a fresh empty profile for each launch.
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
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

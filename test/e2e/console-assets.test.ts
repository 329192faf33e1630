import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { installConsole } from '../../src/console/console-assets.js';
import { installSecurityHeaders } from '../../src/common/http/security-headers.js';
import { makeTempDir } from '../support/processes.js';

describe('GET /console and its files', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('lathe-console-assets-');
    await mkdir(join(dir, 'built'));
    await writeFile(join(dir, 'built/index.html'), '<!doctype html><title>Lathe Console</title>');
    await writeFile(join(dir, 'built/app.js'), 'console.log(1)');
    await writeFile(join(dir, 'built/app.css'), 'body{}');
    await writeFile(join(dir, 'built/notes.txt'), 'not served');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const server = (bundle: string) => {
    const fastify = Fastify();
    installSecurityHeaders(fastify);
    installConsole(fastify, bundle);
    return fastify;
  };

  it('serves the page, script and stylesheet with their types, under the CSP, revalidated', async () => {
    const fastify = server(join(dir, 'built'));
    const page = await fastify.inject('/console');
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);
    assert.equal(page.body, '<!doctype html><title>Lathe Console</title>');
    assert.equal((await fastify.inject('/console/')).body, page.body);
    const script = await fastify.inject('/console/app.js');
    assert.deepEqual(
      [script.statusCode, script.headers['content-type'], script.body],
      [200, 'text/javascript; charset=utf-8', 'console.log(1)'],
    );
    const style = await fastify.inject('/console/app.css');
    assert.deepEqual([style.statusCode, style.headers['content-type']], [200, 'text/css; charset=utf-8']);
    for (const path of ['/console/notes.txt', '/console/..%2Fbuilt%2Fapp.js', '/console/missing.js']) {
      const res = await fastify.inject(path);
      assert.equal(res.statusCode, 404, path);
      assert.equal(res.json().error.code, 'NOT_FOUND');
    }
    await fastify.close();
  });

  it('says how to build it when the bundle is missing', async () => {
    const fastify = server(join(dir, 'absent'));
    const res = await fastify.inject('/console');
    assert.equal(res.statusCode, 404);
    const body = res.json();
    assert.deepEqual(body.error, {
      code: 'NOT_FOUND',
      message: 'The console was not built: run `npm run build`',
      type: 'invalid_request_error',
      param: null,
    });
    assert.equal(typeof body.requestId, 'string');
    await fastify.close();
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { hashApiKey } from './api-keys.js';
import { ConfigError, disableOnnxRuntimeTelemetry, loadConfig } from './app-config.js';
import { envSchema } from './config.schema.js';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    assert.deepEqual(config.http, {
      port: 8080,
      host: '0.0.0.0',
      bodyLimitBytes: 64 * 1024 * 1024,
      corsOrigins: false,
      trustProxy: false,
      timeouts: { headersMs: 10_000, requestMs: 60_000, keepAliveMs: 72_000, idleMs: 120_000 },
    });
    assert.deepEqual(config.database, {
      url: undefined,
      runMigrations: true,
      embedded: { dataDir: './data', port: 54329 },
      timeouts: { connectMs: 5_000, acquireMs: 5_000, queryMs: 10_000 },
    });
    assert.deepEqual(config.auth.keys, []);
    assert.deepEqual(config.lifecycle, { shutdownDelayMs: 0, shutdownGraceMs: 10_000, heartbeatMs: 15_000 });
  });

  it('reads the storage limits: slice size and checkpoint retention (a count or all)', () => {
    assert.deepEqual(loadConfig({}).storage, { sliceBytes: 1024 * 1024, checkpointsKeepLast: 3, checkpointsKeepBest: true });
    const custom = loadConfig({
      LATHE_STORAGE_SLICE_BYTES: '65536',
      LATHE_CHECKPOINTS_KEEP_LAST: 'all',
      LATHE_CHECKPOINTS_KEEP_BEST: 'false',
    });
    assert.deepEqual(custom.storage, { sliceBytes: 65536, checkpointsKeepLast: 'all', checkpointsKeepBest: false });
    assert.throws(() => loadConfig({ LATHE_CHECKPOINTS_KEEP_LAST: '0' }), ConfigError);
    assert.throws(() => loadConfig({ LATHE_STORAGE_SLICE_BYTES: '100' }), ConfigError);
  });

  it('treats empty variables as unset', () => {
    assert.equal(loadConfig({ PORT: '', DATABASE_URL: '' }).http.port, 8080);
    assert.equal(loadConfig({ DATABASE_URL: '' }).database.url, undefined);
  });

  it('lists every bad variable in one error', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', LATHE_MIGRATIONS_RUN: 'maybe', DATABASE_URL: 'mysql://x', LATHE_API_KEYS: 'broken' });
    } catch (err) {
      error = err as ConfigError;
    }
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(
      error.problems.map((p) => p.split(':')[0]),
      ['PORT', 'DATABASE_URL', 'LATHE_MIGRATIONS_RUN', 'LATHE_API_KEYS'],
    );
    assert.match(error.message, /PORT: .* \(got "eighty"\)/);
    assert.match(error.message, /DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it('refuses an API key list made of separators only, which would run every route open', () => {
    for (const value of [',,,', ' , ', ',', '\n,\t']) {
      assert.throws(
        () => loadConfig({ LATHE_API_KEYS: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.length === 1 &&
          err.problems[0] === 'LATHE_API_KEYS: has separators but no entry (leave it unset or empty to run without keys)',
        JSON.stringify(value),
      );
    }
    assert.deepEqual(loadConfig({ LATHE_API_KEYS: '' }).auth.keys, []);
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    assert.throws(
      () => loadConfig({ LATHE_HTTP_HEADERS_TIMEOUT_MS: '5000', LATHE_HTTP_REQUEST_TIMEOUT_MS: '1000' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.join() === 'LATHE_HTTP_HEADERS_TIMEOUT_MS: must not exceed LATHE_HTTP_REQUEST_TIMEOUT_MS (1000) (got "5000")',
    );
  });

  it('parses CORS origins, trust proxy and API keys', () => {
    const hash = hashApiKey('secret');
    const config = loadConfig({
      LATHE_CORS_ORIGINS: 'https://a.example, https://b.example',
      LATHE_TRUST_PROXY: '2',
      LATHE_API_KEYS: `ci:${hash}:infer+train`,
    });
    assert.deepEqual(config.http.corsOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(config.http.trustProxy, 2);
    assert.equal(config.auth.keys[0]!.name, 'ci');
    assert.deepEqual([...config.auth.keys[0]!.scopes], ['infer', 'train']);
    assert.equal(loadConfig({ LATHE_CORS_ORIGINS: '*' }).http.corsOrigins, true);
    assert.deepEqual(loadConfig({ LATHE_TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).http.trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  });

  it('documents every variable in .env.example and the README', () => {
    const root = new URL('../../../', import.meta.url);
    const example = readFileSync(new URL('.env.example', root), 'utf8');
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    for (const name of Object.keys(envSchema.shape)) {
      assert.match(example, new RegExp(`^#? ?${name}=`, 'm'), `.env.example lacks ${name}`);
      assert.ok(readme.includes(`\`${name}\``), `README lacks ${name}`);
    }
  });
});

describe('disableOnnxRuntimeTelemetry', () => {
  it("sets ONNX Runtime's opt-out unless the operator already chose", () => {
    const unset: NodeJS.ProcessEnv = {};
    disableOnnxRuntimeTelemetry(unset);
    assert.deepEqual(unset, { ORT_DISABLE_TELEMETRY: '1' });
    const chosen: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: '0' };
    disableOnnxRuntimeTelemetry(chosen);
    assert.deepEqual(chosen, { ORT_DISABLE_TELEMETRY: '0' });
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { hashApiKey } from '../auth/api-keys.js';
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
    });
    assert.deepEqual(config.database, {
      url: undefined,
      runMigrations: true,
      embedded: { dataDir: './data', port: 54329 },
      timeouts: { connectMs: 5_000, acquireMs: 5_000, queryMs: 10_000 },
    });
    assert.deepEqual(config.auth.keys, []);
    assert.deepEqual(config.lifecycle, { shutdownGraceMs: 10_000, heartbeatMs: 15_000 });
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
  it('sets ONNX Runtime\'s opt-out unless the operator already chose', () => {
    const unset: NodeJS.ProcessEnv = {};
    disableOnnxRuntimeTelemetry(unset);
    assert.deepEqual(unset, { ORT_DISABLE_TELEMETRY: '1' });
    const chosen: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: '0' };
    disableOnnxRuntimeTelemetry(chosen);
    assert.deepEqual(chosen, { ORT_DISABLE_TELEMETRY: '0' });
  });
});

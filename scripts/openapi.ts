/**
 * Writes openapi.json from the app's controllers (no database needed), or with --check fails
 * when the committed file differs from a fresh generation.
 */
import 'reflect-metadata';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createApp } from '../src/app.setup.js';
import { buildOpenApiDocument } from '../src/common/openapi/openapi.js';
import { loadConfig } from '../src/config/app-config.js';

const target = fileURLToPath(new URL('../../openapi.json', import.meta.url));

async function generateOpenApi(): Promise<string> {
  const app = await createApp(loadConfig({ LOG_LEVEL: 'silent' }), { preview: true });
  try {
    return `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

const fresh = await generateOpenApi();
if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== fresh) {
    console.error('openapi.json is stale: run `npm run openapi` and commit the result');
    process.exit(1);
  }
  console.log('openapi.json is up to date');
} else {
  await writeFile(target, fresh);
  console.log(`wrote ${target}`);
}

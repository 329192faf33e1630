import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { spawnNode } from '../support/processes.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/openapi.js', import.meta.url));

describe('openapi.json', () => {
  it('is committed as generated from the code (npm run openapi)', async () => {
    const run = spawnNode(SCRIPT, {}, ['--check']);
    const exit = await run.exited;
    // Deliberately no database: the document is built from metadata alone.
    assert.equal(exit.code, 0, run.output());
    assert.equal(run.output(), 'openapi.json is up to date\n');
  });
});

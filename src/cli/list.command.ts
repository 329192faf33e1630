import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type ModelManifest, parseManifest } from '../contracts/model-manifest.js';
import { resolveWeights } from '../models/model-source.js';
import type { ModelStore } from './model-store.js';
import { treeSize } from './model-store.js';
import { formatBytes } from './progress.js';
import type { Origin } from './pulled-manifest.js';

export interface ListedVersion {
  version: string;
  task?: string;
  source: string;
  /** Bytes of the version folder, plus its weights file when that lives elsewhere (npm, LATHE_MODEL_FILES_DIR). */
  size: number;
  /** Why the server cannot serve it (bad manifest, weights not installed). */
  problem?: string;
}

export interface ListedModel {
  name: string;
  versions: ListedVersion[];
}

/** `lathe models list`: every model in the repository, read the way the server reads it. */
export async function listModels(store: ModelStore, filesDir?: string): Promise<ListedModel[]> {
  const models: ListedModel[] = [];
  for (const name of await store.names()) {
    const versions: ListedVersion[] = [];
    for (const v of await store.versions(name))
      versions.push(await describeVersion(join(store.root, name, String(v)), String(v), filesDir));
    if (versions.length > 0) models.push({ name, versions });
  }
  return models;
}

async function describeVersion(dir: string, version: string, filesDir?: string): Promise<ListedVersion> {
  let manifest: ModelManifest;
  const size = await treeSize(dir);
  try {
    manifest = parseManifest(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')), 'model.json');
  } catch (err) {
    return { version, source: '-', size, problem: `bad manifest: ${(err as Error).message}` };
  }
  const listed: ListedVersion = { version, task: manifest.task, source: await sourceOf(manifest, dir), size };
  try {
    const weights = resolveWeights(manifest, { versionDir: dir, filesDir });
    const outside = relative(dir, weights).startsWith(`..${sep}`) || relative(dir, weights) === '..';
    if (outside) listed.size += await treeSize(weights);
  } catch (err) {
    listed.problem = (err as Error).message;
  }
  return listed;
}

async function sourceOf(manifest: ModelManifest, dir: string): Promise<string> {
  const source = manifest.source;
  if ('npm' in source) return `npm:${source.npm}/${source.path}`;
  if ('file' in source && !('huggingface' in source)) return `file:${source.file}`;
  const origin = await readFile(join(dir, 'origin.json'), 'utf8')
    .then((text) => JSON.parse(text) as Origin)
    .catch(() => undefined);
  const hf = origin?.huggingface;
  return hf ? `hf:${hf.repo}@${hf.commit.slice(0, 7)} ${source.file}` : `huggingface:${source.huggingface}/${source.file}`;
}

/** The list as an aligned table: one row per model, its newest version's task and source. */
export function formatTable(models: ListedModel[]): string {
  if (models.length === 0) return 'no models\n';
  const rows = [['NAME', 'VERSIONS', 'TASK', 'SOURCE', 'SIZE']];
  for (const m of models) {
    const newest = m.versions.at(-1)!;
    const size = m.versions.reduce((n, v) => n + v.size, 0);
    const source = newest.problem ? `${newest.source} (${newest.problem})` : newest.source;
    rows.push([m.name, m.versions.map((v) => v.version).join(','), newest.task ?? '?', source, formatBytes(size)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type ModelManifest, parseManifest } from '../contracts/model-manifest.js';
import { ModelFileMissing, resolveWeights } from '../models/model-source.js';
import type { ModelStore } from './model-store.js';
import { treeSize } from './model-store.js';
import { formatBytes } from './progress.js';
import type { Origin } from './pulled-manifest.js';
import { formatTable as formatRows } from './table.js';

export interface ListedVersion {
  version: string;
  task?: string;
  source: string;
  /**
   * Bytes of the version folder, plus its weights file when that lives elsewhere (npm,
   * LATHE_MODEL_FILES_DIR); null when the weights are missing (the server cannot load it).
   */
  size: number | null;
  /** Why the server cannot serve it (bad manifest, weights not installed). */
  problem?: string;
}

export interface ListedModel {
  name: string;
  versions: ListedVersion[];
  /** As a running server reports it (GET /v1/models): READY, UNAVAILABLE …; absent without a server. */
  state?: string;
  /** `fine-tuning` for a head trained by the server (kept in its database), else `lathe`. */
  ownedBy?: string;
}

/** `lathe models list`: every model in the repository folder, read the way the server reads it. */
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
    if (outside) listed.size = size + (await treeSize(weights));
  } catch (err) {
    listed.problem = (err as Error).message;
    if (err instanceof ModelFileMissing) listed.size = null;
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

/** One model of a running server's GET /v1/models. */
export interface ServedModel {
  id: string;
  owned_by: string;
  task: string | null;
  versions: string[];
  state: string;
}

/**
 * Every model the server serves (its folder's and the fine-tuned heads in its database), with
 * source and size from the local folder where it holds the model; local models the server does
 * not list come last, in state `not served`.
 */
export function mergeServed(local: ListedModel[], served: ServedModel[]): ListedModel[] {
  const merged = served.map((m): ListedModel => {
    const here = local.find((l) => l.name === m.id);
    const source = m.owned_by === 'fine-tuning' ? 'fine-tuned head (server database)' : 'server only';
    const versions = here?.versions ?? m.versions.map((version) => ({ version, task: m.task ?? undefined, source, size: null }));
    return { name: m.id, versions, state: m.state, ownedBy: m.owned_by };
  });
  const rest = local.filter((l) => !served.some((m) => m.id === l.name)).map((l) => ({ ...l, state: 'not served' }));
  return [...merged, ...rest];
}

/** The list as an aligned table: one row per model, its newest version's task and source, and the state when a server answered. */
export function formatTable(models: ListedModel[]): string {
  if (models.length === 0) return 'no models\n';
  const withState = models.some((m) => m.state !== undefined);
  const rows = [['NAME', 'VERSIONS', 'TASK', ...(withState ? ['STATE'] : []), 'SOURCE', 'SIZE']];
  for (const m of models) {
    const newest = m.versions.at(-1)!;
    const source = newest.problem ? `${newest.source} (${newest.problem})` : newest.source;
    const state = withState ? [m.state ?? '-'] : [];
    rows.push([m.name, m.versions.map((v) => v.version).join(','), newest.task ?? '?', ...state, source, sizeOf(m)]);
  }
  return formatRows(rows);
}

/** `missing` when the served (newest) version has no weights; `-` for a fine-tuned head kept in the database. */
function sizeOf(m: ListedModel): string {
  if (m.ownedBy === 'fine-tuning' || m.versions.at(-1)!.source === 'server only') return '-';
  if (m.versions.at(-1)!.size === null) return 'missing';
  return formatBytes(m.versions.reduce((n, v) => n + (v.size ?? 0), 0));
}

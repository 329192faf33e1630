import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A model kept in the database rather than in the repository folder (fine-tuned heads), so every
 * replica sees it. Its files are written once to a local cache folder and served from there like
 * any other version; manifest paths are relative to that folder.
 */
export interface StoredModel {
  name: string;
  version: string;
  manifest: object;
  /** Names the files' content (e.g. their sha256): while it is unchanged the files are not read again. */
  digest: string;
  /** The files, read only when the cached copy is missing or stale. */
  files(): Promise<Record<string, Uint8Array>>;
}

export interface StoredModelSource {
  /** For log lines: e.g. "fine-tuned models". */
  readonly what: string;
  list(): Promise<StoredModel[]>;
}

/**
 * Writes a stored model's files and manifest under `root` (one folder per name and version),
 * atomically, and only when they changed. Returns the version's folder.
 */
export async function materialise(root: string, model: StoredModel): Promise<string> {
  const dir = join(root, encodeURIComponent(model.name), model.version);
  const manifest = JSON.stringify(model.manifest, null, 2);
  const digest = createHash('sha256').update(manifest).update(model.digest).digest('hex');
  const stampFile = join(dir, '.stored.sha256');
  if (existsSync(stampFile) && (await readFile(stampFile, 'utf8')) === digest) return dir;
  const staging = `${dir}.partial-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  for (const [path, bytes] of Object.entries(await model.files())) {
    if (path.includes('..') || path.startsWith('/')) throw new Error(`stored model ${model.name}: file path ${path} leaves its folder`);
    await mkdir(join(staging, path, '..'), { recursive: true });
    await writeFile(join(staging, path), bytes);
  }
  await writeFile(join(staging, 'model.json'), manifest);
  await writeFile(join(staging, '.stored.sha256'), digest);
  const current = async () => existsSync(stampFile) && (await readFile(stampFile, 'utf8').catch(() => '')) === digest;
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rename(staging, dir);
      return dir;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Replicas sharing a data dir write the same model at once: a good copy already there is
      // kept (another replica may be loading it); only a stale one is replaced.
      if (await current()) {
        await rm(staging, { recursive: true, force: true });
        return dir;
      }
      if (attempt > 2) throw err;
      await rm(dir, { recursive: true, force: true });
    }
  }
}

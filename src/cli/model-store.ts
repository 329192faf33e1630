import { randomBytes } from 'node:crypto';
import { copyFile, link, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError, ExitCode } from './cli-error.js';
import { confine } from './confine.js';

/** Holds partial downloads, verified files and models being assembled; the server skips dot-dirs. */
export const STAGING = '.staging';

/** Staging names are content hashes only: a git object id (sha1 or sha256) or a file's sha256. */
const BLOB_KEY = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The model repository on disk as the CLI changes it. A model only ever appears by one rename of a
 * complete version folder (model.json, origin.json, hf/), so the server never sees half a model.
 */
export class ModelStore {
  constructor(readonly root: string) {}

  get staging(): string {
    return join(this.root, STAGING);
  }

  /** Where a download waits, with its `.incomplete` and `.lock` siblings, each checked by `confine`. */
  async blobPath(key: string): Promise<string> {
    if (!BLOB_KEY.test(key)) throw new CliError(`refused the staging name ${JSON.stringify(key)}: not a content hash`, ExitCode.DataError);
    const path = join(this.staging, 'blobs', key);
    for (const p of [path, `${path}.incomplete`, `${path}.lock`]) await confine(this.root, p);
    return path;
  }

  /** Creates the staging folders; partial downloads from an earlier run stay. */
  async prepare(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await confine(this.root, join(this.staging, 'blobs'));
    await mkdir(join(this.staging, 'blobs'), { recursive: true });
  }

  /** A fresh folder to assemble a version in, marked with our pid so a later run can clear it if we die. */
  async newBuild(name: string): Promise<string> {
    await confine(this.root, join(this.staging, name));
    await this.clearAbandonedBuilds();
    const dir = await mkdtemp(join(this.staging, `${name}-`));
    await writeFile(join(dir, '.owner-pid'), String(process.pid));
    return dir;
  }

  /** Places a verified download in a build; a hard link, so the blob survives until the install. */
  async place(blob: string, build: string, path: string): Promise<void> {
    const target = join(build, path);
    await confine(this.root, target);
    await mkdir(join(target, '..'), { recursive: true });
    await link(blob, target).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV' && err.code !== 'EPERM' && err.code !== 'ENOTSUP') throw err;
      await copyFile(blob, target);
    });
  }

  /** Moves a build to `<root>/<name>/<next version>` in one rename; a racing pull takes the next number. */
  async install(name: string, build: string): Promise<string> {
    await rm(join(build, '.owner-pid'), { force: true });
    const modelDir = join(this.root, name);
    await confine(this.root, modelDir);
    await mkdir(modelDir, { recursive: true });
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const taken = await versionsIn(modelDir);
      const version = String((taken.at(-1) ?? 0) + 1);
      try {
        await confine(this.root, join(modelDir, version));
        await rename(build, join(modelDir, version));
        return version;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
    throw new CliError(`could not find a free version number in ${modelDir}`, ExitCode.Failure);
  }

  async discard(build: string): Promise<void> {
    await rm(build, { recursive: true, force: true });
  }

  async names(): Promise<string[]> {
    return (await subdirs(this.root)).filter((n) => !n.startsWith('.'));
  }

  async versions(name: string): Promise<number[]> {
    return versionsIn(join(this.root, name));
  }

  /** Removes one version, or the whole model; each disappears in one rename before it is deleted. */
  async remove(name: string, version?: string): Promise<string[]> {
    const versions = (await this.versions(name)).map(String);
    if (versions.length === 0) throw new CliError(`no model "${name}" in ${this.root}`, ExitCode.NotFound);
    if (version !== undefined && !versions.includes(String(Number(version)))) {
      throw new CliError(`model "${name}" has no version ${version} in ${this.root} (it has ${versions.join(', ')})`, ExitCode.NotFound);
    }
    const target = version === undefined ? join(this.root, name) : join(this.root, name, String(Number(version)));
    await confine(this.root, target);
    await confine(this.root, join(this.staging, 'trash-'));
    await mkdir(this.staging, { recursive: true });
    const trash = join(this.staging, `trash-${randomBytes(6).toString('hex')}`);
    await rename(target, trash);
    await rm(trash, { recursive: true, force: true });
    if (version !== undefined && (await this.versions(name)).length === 0) await rmdir(join(this.root, name)).catch(() => undefined);
    return version === undefined ? versions : [String(Number(version))];
  }

  /** Deletes the blobs a finished install no longer needs (the version holds its own links). */
  async dropBlobs(keys: Iterable<string>): Promise<void> {
    for (const key of keys) await rm(await this.blobPath(key), { force: true });
  }

  private async clearAbandonedBuilds(): Promise<void> {
    for (const entry of await subdirs(this.staging)) {
      const dir = join(this.staging, entry);
      const pid = Number(await readFile(join(dir, '.owner-pid'), 'utf8').catch(() => ''));
      if (entry.startsWith('trash-') || (pid > 0 && !isAlive(pid))) await rm(dir, { recursive: true, force: true });
    }
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function versionsIn(dir: string): Promise<number[]> {
  return (await subdirs(dir))
    .filter((v) => /^\d+$/.test(v))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Bytes under a folder, symlinks not followed. */
export async function treeSize(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.isFile() ? info.size : 0;
  let total = 0;
  for (const entry of await readdir(path)) total += await treeSize(join(path, entry));
  return total;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from './args.js';
import { CliError, ExitCode } from './cli-error.js';
import { blobKey, downloadFile, type RetryPolicy, withRetries } from './file-download.js';
import type { FileHashes } from './file-hash.js';
import { type HubSibling, selectFiles } from './file-selection.js';
import type { HubClient, RepoInfo } from './hub-client.js';
import type { ModelStore } from './model-store.js';
import { readSignature } from './onnx-signature.js';
import { formatBytes, type Progress } from './progress.js';
import { buildManifest, HF_FOLDER, type Origin } from './pulled-manifest.js';

export type PullCommand = Extract<Command, { kind: 'pull' }>;

export interface PullDeps {
  hub: HubClient;
  store: ModelStore;
  progress: Progress;
  retry: RetryPolicy;
  /** Status lines (stderr); the result line goes to stdout. */
  log: (line: string) => void;
}

export interface PullResult {
  name: string;
  version: string;
  dir: string;
  manifest: Record<string, unknown>;
  origin: Origin;
  /** The newest version already held this commit's files: nothing was downloaded or installed. */
  upToDate: boolean;
}

/** `lathe models pull`: list, download and verify into staging, describe, then install in one rename. */
export async function pull(cmd: PullCommand, deps: PullDeps): Promise<PullResult> {
  const info = await withRetries(deps.retry, deps.progress, () => deps.hub.repoInfo(cmd.repo, cmd.revision));
  const selection = selectFiles(cmd.repo, info.siblings, cmd.dtype, cmd.includes);
  const siblings = selection.files.map((f) => info.siblings.find((s) => s.rfilename === f)!);
  const total = siblings.reduce((n, s) => n + (s.lfs?.size ?? s.size ?? 0), 0);
  deps.log(`${cmd.repo} ${cmd.revision} is commit ${info.sha}: ${siblings.length} files, ${formatBytes(total)}`);
  const installed = cmd.force ? undefined : await installedCopy(cmd, info.sha, siblings, deps.store);
  if (installed) return installed;
  await deps.store.prepare();
  const hashes = new Map<string, FileHashes>();
  for (const sibling of siblings) {
    const dest = await deps.store.blobPath(blobKey(sibling, info.sha));
    hashes.set(
      sibling.rfilename,
      await downloadFile(deps.hub, { repo: cmd.repo, commit: info.sha, sibling, dest }, deps.retry, deps.progress),
    );
  }
  const build = await deps.store.newBuild(cmd.name);
  try {
    for (const sibling of siblings) {
      await deps.store.place(await deps.store.blobPath(blobKey(sibling, info.sha)), build, join(HF_FOLDER, sibling.rfilename));
    }
    const { manifest, origin } = await describe(cmd, info, selection, siblings, hashes, build, deps.hub.endpoint);
    await writeFile(join(build, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(join(build, 'origin.json'), `${JSON.stringify(origin, null, 2)}\n`);
    const version = await deps.store.install(cmd.name, build);
    await deps.store.dropBlobs(new Set(siblings.map((s) => blobKey(s, info.sha))));
    return { name: cmd.name, version, dir: join(deps.store.root, cmd.name, version), manifest, origin, upToDate: false };
  } catch (err) {
    await deps.store.discard(build);
    throw err;
  }
}

/**
 * The newest installed version of the model when it already holds exactly what this pull would
 * install: the same repository, commit, dtype and files (each present at its size), and the same task.
 */
async function installedCopy(cmd: PullCommand, commit: string, siblings: HubSibling[], store: ModelStore): Promise<PullResult | undefined> {
  const version = (await store.versions(cmd.name)).at(-1);
  if (version === undefined) return undefined;
  const dir = join(store.root, cmd.name, String(version));
  try {
    const origin = JSON.parse(await readFile(join(dir, 'origin.json'), 'utf8')) as Origin;
    const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    const same =
      origin.huggingface.repo === cmd.repo &&
      origin.huggingface.commit === commit &&
      origin.dtype === cmd.dtype &&
      (cmd.task === undefined || manifest.task === cmd.task) &&
      origin.files.length === siblings.length &&
      siblings.every((s) => origin.files.some((f) => f.path === s.rfilename));
    if (!same) return undefined;
    for (const file of origin.files) if ((await stat(join(dir, HF_FOLDER, file.path))).size !== file.size) return undefined;
    return { name: cmd.name, version: String(version), dir, manifest, origin, upToDate: true };
  } catch {
    return undefined;
  }
}

async function describe(
  cmd: PullCommand,
  info: RepoInfo,
  selection: ReturnType<typeof selectFiles>,
  siblings: HubSibling[],
  hashes: Map<string, FileHashes>,
  build: string,
  endpoint: string,
): Promise<{ manifest: Record<string, unknown>; origin: Origin }> {
  const hf = join(build, HF_FOLDER);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${cmd.repo}: config.json is not readable JSON (${(err as Error).message})`, ExitCode.Software);
  }
  let signature;
  try {
    signature = await readSignature(join(hf, selection.primary));
  } catch (err) {
    throw new CliError(`${cmd.repo}: ONNX Runtime cannot load ${selection.primary}: ${(err as Error).message}`, ExitCode.Software);
  }
  let manifest: Record<string, unknown>;
  try {
    manifest = buildManifest({ ...cmd, commit: info.sha, config, cardData: info.cardData, selection, signature });
  } catch (err) {
    throw new CliError(`${cmd.repo}: cannot describe the model for Lathe: ${(err as Error).message}`, ExitCode.Software);
  }
  const origin: Origin = {
    huggingface: { endpoint, repo: cmd.repo, revision: cmd.revision, commit: info.sha },
    dtype: cmd.dtype,
    pulledAt: new Date().toISOString(),
    files: siblings.map((s) => ({ path: s.rfilename, size: hashes.get(s.rfilename)!.size, sha256: hashes.get(s.rfilename)!.sha256 })),
  };
  return { manifest, origin };
}

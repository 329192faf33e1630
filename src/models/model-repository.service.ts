import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { ReadinessService } from '../health/readiness.service.js';
import type { ModelRunner } from '../runtime/model-runner.js';
import { RuntimeService } from '../runtime/runtime.service.js';
import { type ModelManifest, parseManifest } from '../contracts/model-manifest.js';
import { huggingfaceFolder, loadLabels, ModelFileMissing, resolveWeights, type SourceContext } from './model-source.js';
import { materialise, type StoredModelSource } from './stored-models.js';
import type { ManifestOverride } from './manifest-override.js';

export interface ModelVersion {
  name: string;
  version: string;
  dir: string;
  manifest?: ModelManifest;
  /** Why the version cannot be served (bad manifest, missing weights, failed load). */
  error?: string;
  /** Unix seconds: when its manifest was written. */
  created?: number;
}

export type ModelState = 'READY' | 'LOADING' | 'UNAVAILABLE';

/**
 * The Triton-style repository: `<dir>/<name>/<version>/model.json`. Indexes manifests, loads
 * versions into the runtime (at boot for preloaded models, else on first use), unloads them.
 */
/** How often a request for an unknown model may make the repository re-index. */
const MISS_REINDEX_MS = 1000;

@Injectable()
export class ModelRepository implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Models');
  private index = new Map<string, Map<string, ModelVersion>>();
  /** Loading or loaded versions by `name/version`; `settled` holds those that finished loading. */
  private readonly runners = new Map<string, Promise<ModelRunner>>();
  private readonly settled = new Map<string, ModelRunner>();
  private readonly labelCache = new Map<string, Promise<string[] | undefined>>();
  private readonly sources: StoredModelSource[] = [];
  /** Names indexed from stored sources at the last reindex: one missing now was deleted, and its files go. */
  private storedNames = new Set<string>();
  /**
   * Models unloaded through the repository API: they stay unloaded (Triton's explicit model
   * control) until loaded again; every other model loads on first use.
   */
  private readonly unloaded = new Set<string>();
  /** Manifest overrides given to `load` (Triton's `parameters.config`), kept until the next load without one. */
  private readonly overrides = new Map<string, ManifestOverride>();
  /** Models being reloaded with a new manifest: their requests wait for it rather than fail. */
  private readonly reloading = new Map<string, Promise<void>>();
  private reindexing: Promise<void> = Promise.resolve();
  private lastMissReindex = 0;
  private missReindex: Promise<void> = Promise.resolve();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly runtime: RuntimeService,
    readiness: ReadinessService,
  ) {
    readiness.register('models', () => this.preloadedReady());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.reindex();
    const preload = this.config.models.preload === '*' ? [...this.index.keys()] : this.config.models.preload;
    for (const name of preload) {
      await this.load(name).catch((err) => this.logger.error(`Preloading ${name} failed: ${(err as Error).message}`));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.index.keys()].map((name) => this.unload(name)));
  }

  /** Re-reads every manifest; loaded versions keep serving. */
  reindex(): Promise<void> {
    // One at a time: an older listing finishing after a newer one would bring a deleted model back.
    const next = this.reindexing.then(() => this.indexNow());
    this.reindexing = next.catch(() => undefined);
    return next;
  }

  private async indexNow(): Promise<void> {
    const root = resolve(this.config.models.dir);
    const index = new Map<string, Map<string, ModelVersion>>();
    // Dot folders are not models (`lathe models pull` stages downloads in .staging).
    for (const name of (await subdirs(root)).filter((n) => !n.startsWith('.'))) {
      const versions = new Map<string, ModelVersion>();
      for (const version of (await subdirs(join(root, name))).filter((v) => /^\d+$/.test(v))) {
        const fresh = await readVersion(name, version, join(root, name, version), this.overrides.get(name));
        // A failed load stays reported (as Triton does) until the version loads or its manifest breaks.
        const failed = this.index.get(name)?.get(version)?.error;
        if (!fresh.error && failed?.startsWith('load failed')) fresh.error = failed;
        versions.set(version, fresh);
      }
      if (versions.size > 0) index.set(name, versions);
    }
    await this.indexStored(index);
    this.index = index;
    this.labelCache.clear();
    this.logger.log(`Model repository ${root}: ${[...index.keys()].join(', ') || 'empty'}`);
    await this.stopRemoved();
  }

  /** Versions that left the index (a deleted fine-tuned model, a removed folder) stop serving and free their workers. */
  private async stopRemoved(): Promise<void> {
    const gone = [...this.runners.keys()].filter((key) => {
      const at = key.lastIndexOf('/');
      return !this.index.get(key.slice(0, at))?.has(key.slice(at + 1));
    });
    await Promise.all(gone.map((key) => this.stopRunner(key)));
  }

  /** Models kept elsewhere (the database) join the index at every reindex from now on. */
  addSource(source: StoredModelSource): void {
    this.sources.push(source);
  }

  private async indexStored(index: Map<string, Map<string, ModelVersion>>): Promise<void> {
    const root = resolve(this.config.database.embedded.dataDir, 'stored-models');
    const folders = new Set(index.keys());
    const listed = new Set<string>();
    let complete = true;
    for (const source of this.sources) {
      let models;
      try {
        models = await source.list();
      } catch (err) {
        this.logger.error(`Listing ${source.what} failed: ${(err as Error).message}`);
        complete = false;
        // Served as before (a database that does not answer for a moment deletes nothing).
        for (const name of this.storedNames) {
          const known = this.index.get(name);
          if (known && !index.has(name)) index.set(name, known);
        }
        continue;
      }
      for (const model of models) {
        listed.add(model.name);
        if (folders.has(model.name)) {
          this.logger.warn(`${source.what}: "${model.name}" is also a folder in the model repository; the folder wins`);
          continue;
        }
        try {
          const dir = await materialise(root, model);
          const versions = index.get(model.name) ?? new Map<string, ModelVersion>();
          versions.set(model.version, await readVersion(model.name, model.version, dir, this.overrides.get(model.name)));
          index.set(model.name, versions);
        } catch (err) {
          this.logger.error(`${source.what}: "${model.name}" could not be written out: ${(err as Error).message}`);
        }
      }
    }
    if (!complete) return;
    // Only names this replica indexed before: a model another replica stored a moment ago is never taken for a deleted one.
    for (const name of [...this.storedNames].filter((n) => !listed.has(n))) {
      this.logger.log(`Stored model "${name}" was deleted; removing its files`);
      this.unloaded.delete(name);
      this.overrides.delete(name);
      await rm(join(root, encodeURIComponent(name)), { recursive: true, force: true });
    }
    this.storedNames = listed;
  }

  names(): string[] {
    return [...this.index.keys()].sort();
  }

  versions(name: string): ModelVersion[] {
    const versions = this.index.get(name);
    if (!versions) throw new AppError(ErrorCode.ModelNotFound, `model "${name}" is not in the repository`);
    return [...versions.values()].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** A version, or the highest one when none is given. */
  /**
   * Like version(), but a name it does not know makes it re-index first (at most once a second):
   * a model another replica stored a moment ago is found before its announcement arrives.
   */
  async find(name: string, version?: string): Promise<ModelVersion> {
    try {
      return this.version(name, version);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== ErrorCode.ModelNotFound || this.sources.length === 0) throw err;
      if (Date.now() - this.lastMissReindex >= MISS_REINDEX_MS) {
        this.lastMissReindex = Date.now();
        this.missReindex = this.reindex();
      }
      await this.missReindex;
      return this.version(name, version);
    }
  }

  version(name: string, version?: string): ModelVersion {
    const versions = this.versions(name);
    const found = version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
    if (!found) throw new AppError(ErrorCode.ModelNotFound, `model "${name}" has no version "${version}"`);
    return found;
  }

  state(v: ModelVersion): { state: ModelState; reason: string } {
    const key = `${v.name}/${v.version}`;
    if (v.error) return { state: 'UNAVAILABLE', reason: v.error };
    if (!this.runners.has(key)) return { state: 'UNAVAILABLE', reason: 'unloaded' };
    return this.settled.has(key) ? { state: 'READY', reason: '' } : { state: 'LOADING', reason: '' };
  }

  /**
   * The running model, loading it first when it is not loaded (the on-demand path), unless it was
   * unloaded through the repository API: then 503 UNAVAILABLE, Triton's answer in explicit mode.
   */
  async runner(name: string, version?: string): Promise<{ version: ModelVersion; runner: ModelRunner }> {
    await this.reloading.get(name);
    const v = this.version(name, version);
    if (this.unloaded.has(name) && !this.runners.has(`${v.name}/${v.version}`)) {
      const what = version === undefined ? 'has no available versions' : `version ${version} is not at ready state`;
      throw new AppError(ErrorCode.Unavailable, `Request for unknown model: '${name}' ${what} (unloaded; load it with POST /v2/repository/models/${name}/load)`);
    }
    return { version: v, runner: await this.loadVersion(v) };
  }

  /**
   * Loads every version of a model (Triton's repository `load`). With an override (Triton's
   * `parameters.config`) the versions are reloaded with it; without one, a model loaded with an
   * override is reloaded as its manifest says.
   */
  async load(name: string, override?: ManifestOverride): Promise<void> {
    const versions = this.versions(name);
    if (override === undefined && !this.overrides.has(name)) {
      this.unloaded.delete(name);
      await Promise.all(versions.map((v) => this.loadVersion(v)));
      return;
    }
    // Checked on every version before anything stops: a bad override leaves the model as it was.
    const manifests = await Promise.all(versions.map((v) => overriddenManifest(v, override)));
    await this.reloading.get(name);
    const reload = (async () => {
      // Requests already admitted finish on the old sessions (at most their timeout); new ones wait.
      await Promise.all(versions.map((v) => this.loaded(v)?.idle(v.manifest?.timeoutMs ?? 0)));
      await this.unload(name);
      if (override) this.overrides.set(name, override);
      else this.overrides.delete(name);
      versions.forEach((v, i) => {
        v.manifest = manifests[i];
        v.error = undefined;
        this.labelCache.delete(`${v.name}/${v.version}`);
      });
      this.unloaded.delete(name);
      await Promise.all(versions.map((v) => this.loadVersion(v)));
    })();
    const waiting = reload.then(
      () => undefined,
      () => undefined,
    );
    this.reloading.set(name, waiting);
    try {
      await reload;
    } finally {
      if (this.reloading.get(name) === waiting) this.reloading.delete(name);
    }
  }

  /** Unloads every version; the model stays unloaded until `load` (see runner()). */
  async unload(name: string): Promise<void> {
    const versions = this.index.get(name);
    if (!versions) throw new AppError(ErrorCode.ModelNotFound, `model "${name}" is not in the repository`);
    this.unloaded.add(name);
    for (const v of versions.values()) await this.stopRunner(`${v.name}/${v.version}`);
  }

  private async stopRunner(key: string): Promise<void> {
    const pending = this.runners.get(key);
    this.runners.delete(key);
    if (pending) await pending.then((r) => r.stop(), () => undefined);
    // After the wait: a load still in progress when unload began has registered itself by now.
    if (this.runners.get(key) === undefined) this.settled.delete(key);
  }

  /** The runner of a version that finished loading, without loading it. */
  loaded(v: ModelVersion): ModelRunner | undefined {
    return this.settled.get(`${v.name}/${v.version}`);
  }

  private loadVersion(v: ModelVersion): Promise<ModelRunner> {
    const key = `${v.name}/${v.version}`;
    const existing = this.runners.get(key);
    if (existing) return existing;
    if (!v.manifest || (v.error && !v.error.startsWith('load failed'))) {
      return Promise.reject(new AppError(ErrorCode.ModelLoadFailed, `model "${v.name}" version ${v.version} cannot load: ${v.error}`));
    }
    const manifest = v.manifest;
    const loading = (async () => {
      const modelPath = resolveWeights(manifest, this.sourceContext(v));
      const folder = huggingfaceFolder(manifest, this.sourceContext(v));
      const runner = await this.runtime.start(v.name, v.version, modelPath, manifest, folder);
      v.error = undefined;
      this.settled.set(key, runner);
      this.logger.log(`Loaded ${key} on ${runner.provider} (${manifest.instances} instance(s))`);
      return runner;
    })();
    this.runners.set(key, loading);
    loading.catch((err: Error) => {
      this.runners.delete(key);
      v.error = `load failed: ${err.message}`;
      this.logger.error(`Loading ${key} failed: ${err.message}`);
    });
    return loading.catch((err: Error) => {
      if (err instanceof AppError) throw err;
      if (err instanceof ModelFileMissing) throw new AppError(ErrorCode.ModelNotInstalled, `model "${v.name}" version ${v.version} is not installed here: ${err.message}`);
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${v.name}" version ${v.version} failed to load: ${err.message}`);
    });
  }

  /** The version's labels (inline or from its labels file), read once. */
  labels(v: ModelVersion): Promise<string[] | undefined> {
    const key = `${v.name}/${v.version}`;
    let labels = this.labelCache.get(key);
    if (!labels) {
      labels = loadLabels(v.manifest!, this.sourceContext(v)).catch((err: Error) => {
        this.labelCache.delete(key);
        if (err instanceof ModelFileMissing) throw new AppError(ErrorCode.ModelNotInstalled, `labels of model "${v.name}" are not installed here: ${err.message}`);
        throw new AppError(ErrorCode.ModelLoadFailed, `labels of model "${v.name}" could not be read: ${err.message}`);
      });
      this.labelCache.set(key, labels);
    }
    return labels;
  }

  /** Where the version's files are looked up: its folder and the configured folder of model files. */
  sourceContext(v: Pick<ModelVersion, 'dir'>): SourceContext {
    return { versionDir: v.dir, filesDir: this.config.models.filesDir };
  }

  private async preloadedReady(): Promise<void> {
    const preload = this.config.models.preload === '*' ? this.names() : this.config.models.preload;
    const missing = preload.filter((name) => !this.index.get(name) || this.versions(name).some((v) => this.state(v).state !== 'READY'));
    if (missing.length > 0) throw new Error(`not loaded: ${missing.join(', ')}`);
    const idle = [...this.settled.entries()].filter(([, runner]) => runner.liveWorkers === 0).map(([key]) => key);
    if (idle.length > 0) throw new Error(`no live instance: ${idle.join(', ')}`);
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** The version's manifest file with the override laid over it, validated as a whole. */
async function overriddenManifest(v: ModelVersion, override: ManifestOverride | undefined): Promise<ModelManifest> {
  const json = JSON.parse(await readFile(join(v.dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  try {
    return parseManifest({ ...json, ...override }, `parameters.config for model "${v.name}" version ${v.version}`);
  } catch (err) {
    throw new AppError(ErrorCode.ValidationFailed, (err as Error).message);
  }
}

async function readVersion(name: string, version: string, dir: string, override?: ManifestOverride): Promise<ModelVersion> {
  const file = join(dir, 'model.json');
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const manifest = parseManifest(override ? { ...json, ...override } : json, file);
    return { name, version, dir, manifest, created: Math.floor((await stat(file)).mtimeMs / 1000) };
  } catch (err) {
    return { name, version, dir, error: `bad manifest: ${(err as Error).message}` };
  }
}

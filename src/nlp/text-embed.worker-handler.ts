/**
 * The `embed` extension of a text model's session workers: each request's texts tokenized (a
 * request with a text over the model's limit is refused alone), all rows run in groups of similar
 * length, each row pooled and normalised, each request's vectors returned in one array. Loaded by
 * the session worker from the URL TextWorkers gives, so none of this runs on the thread that
 * answers HTTP, and Transformers.js loads only in text models' workers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { Tensor } from '../contracts/tensor.js';
import type { EmbedPart, EmbedPartAnswer } from '../runtime/work.js';
import type { EmbedExtension, EmbedHandler, TensorSession } from '../runtime/worker-extension.js';
import { configureTransformers, loadTokenizer, type PreTrainedTokenizer } from './hf-tokenizer.js';
import { checkTokenIds, encodeTexts, lengthGroups, maxLengthOf, normaliseInPlace, padIds, poolRows } from './text-features.js';
import { type TextWorkerConfig, textWorkerConfig } from './text-worker-config.js';

export const extension: EmbedExtension = {
  async load(raw) {
    const spec = textWorkerConfig.parse(raw);
    try {
      configureTransformers(spec.cacheDir);
      const [tokenizer, configText] = await Promise.all([loadTokenizer(spec.folder), readFile(join(spec.folder, 'config.json'), 'utf8')]);
      const config = JSON.parse(configText) as { max_position_embeddings?: unknown };
      const positions = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : undefined;
      return new TextEmbedder(spec, tokenizer, maxLengthOf(spec, tokenizer, positions), tokenizer.get_vocab().size);
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
      throw new AppError(ErrorCode.ModelLoadFailed, `model "${spec.model}": tokenizer or config.json could not be read: ${reason}`);
    }
  },
};

class TextEmbedder implements EmbedHandler {
  constructor(
    private readonly spec: TextWorkerConfig,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly maxLength: number,
    private readonly vocabularySize: number,
  ) {}

  async embed(parts: EmbedPart[], session: TensorSession): Promise<{ answers: EmbedPartAnswer[]; inferNs: number }> {
    const { spec, tokenizer, maxLength } = this;
    const refused: Array<EmbedPartAnswer | undefined> = [];
    const rows: Array<{ part: number; ids: number[] }> = [];
    parts.forEach((part, p) => {
      try {
        checkTokenIds(part.inputs, this.vocabularySize, spec.model, part.offset);
        const limits = { model: spec.model, maxLength, truncate: part.truncate, offset: part.offset, from: part.truncateFrom };
        for (const ids of encodeTexts(tokenizer, part.inputs, limits)) rows.push({ part: p, ids });
        refused.push(undefined);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        refused.push({ ok: false, code: err.code, message: err.message });
      }
    });
    const pooled: Float32Array[] = [];
    let width = 0;
    let inferNs = 0;
    for (const group of lengthGroups(
      rows.map((r) => r.ids.length),
      spec.maxBatchSize,
    )) {
      const ids = group.map((i) => rows[i]!.ids);
      const batch = padIds(ids, spec.inputs, tokenizer.pad_token_id ?? 0, maxLength, spec.model);
      const started = process.hrtime.bigint();
      const output: Tensor = (await session.run(batch.inputs, [spec.output]))[spec.output]!;
      inferNs += Number(process.hrtime.bigint() - started);
      // Normalised per row: requests in one group may ask for different normalisation.
      const vectors = poolRows(output, batch.lengths, spec.pooling, false);
      width = output.shape.at(-1)!;
      group.forEach((row, k) => {
        const vector = vectors.subarray(k * width, (k + 1) * width);
        pooled[row] = (parts[rows[row]!.part]!.normalize ?? spec.normalize) ? normaliseInPlace(vector) : vector;
      });
    }
    return { answers: gather(parts, rows, pooled, width, refused), inferNs };
  }
}

/** Each part's rows, in its own order, in one array to hand over. */
function gather(
  parts: EmbedPart[],
  rows: Array<{ part: number; ids: number[] }>,
  pooled: Float32Array[],
  width: number,
  refused: Array<EmbedPartAnswer | undefined>,
): EmbedPartAnswer[] {
  const counts = parts.map(() => 0);
  const tokens = parts.map(() => 0);
  for (const row of rows) {
    counts[row.part]! += 1;
    tokens[row.part]! += row.ids.length;
  }
  const filled = parts.map((_, p) => (refused[p] ? undefined : new Float32Array(counts[p]! * width)));
  const next = parts.map(() => 0);
  rows.forEach((row, i) => filled[row.part]!.set(pooled[i]!, (next[row.part]! += 1) * width - width));
  return parts.map((_, p) => refused[p] ?? { ok: true, vectors: filled[p]!, width, tokens: tokens[p]! });
}

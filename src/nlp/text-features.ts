/**
 * Text in, feature vectors out: tokenizing with the model's limit, padding ids into its int64
 * inputs, and pooling token vectors into one vector per text. Pure functions over typed arrays
 * (the tokenizer aside), shared by the main thread (classification) and by session workers that
 * serve a text model whole (tokenize -> run -> pool off the thread that answers HTTP).
 */
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { PreTrainedTokenizer } from './hf-tokenizer.js';
import type { NamedTensors, Tensor } from '../contracts/tensor.js';

export const textParameters = z.object({
  /**
   * How token vectors become one: mean over the attention mask, the first token, none (the model
   * pools), or splade (a masked-LM's logits: max over tokens of log(1 + relu), a sparse vector).
   */
  pooling: z.enum(['mean', 'cls', 'none', 'splade']).default('mean'),
  normalize: z.boolean().default(true),
  /** The output to read; default the manifest's first. */
  output: z.string().min(1).optional(),
  maxLength: z.number().int().min(1).optional(),
});
export type TextParameters = z.infer<typeof textParameters>;

/** The tokens a model takes: the manifest's maxLength, else the tokenizer's, else config.json's. */
export function maxLengthOf(params: TextParameters, tokenizer: PreTrainedTokenizer, maxPositionEmbeddings: number | undefined): number {
  const tokenizerMax = Number(tokenizer.model_max_length);
  return params.maxLength ?? (Number.isFinite(tokenizerMax) && tokenizerMax < 1e6 ? tokenizerMax : (maxPositionEmbeddings ?? 512));
}

/**
 * Token ids of each input, refusing (413 INPUT_TOO_LONG) or truncating inputs longer than
 * `maxLength`. Token arrays are taken as they are; their ids are checked by the caller.
 */
export function encodeTexts(
  tokenizer: PreTrainedTokenizer,
  inputs: ReadonlyArray<string | readonly number[]>,
  limits: {
    model: string;
    maxLength: number;
    truncate: boolean;
    /** Index of the first input in its request, for messages. */ offset?: number;
    /** Which end truncation cuts; default the right. */ from?: 'left' | 'right';
  },
): number[][] {
  const { model, maxLength, truncate, offset = 0, from = 'right' } = limits;
  return inputs.map((input, k) => {
    const i = offset + k;
    const ids = typeof input === 'string' ? tokenizer.encode(input) : [...input];
    if (ids.length <= maxLength) return ids;
    if (!truncate) {
      throw new AppError(
        ErrorCode.InputTooLong,
        `input ${i} has ${ids.length} tokens; model "${model}" takes at most ${maxLength} (send "truncate": true to cut it)`,
      );
    }
    // Keep the special tokens the tokenizer added at either end (e.g. [CLS] and [SEP]).
    const special = typeof input === 'string' ? tokenizer.all_special_ids : [];
    return truncateIds(ids, maxLength, from, special.includes(ids[0]!), special.includes(ids.at(-1)!));
  });
}

/** `ids` cut to `maxLength` from one end, keeping an opening and a closing special token in place. */
export function truncateIds(ids: readonly number[], maxLength: number, from: 'left' | 'right', opens: boolean, closes: boolean): number[] {
  const head = opens && from === 'left' ? 1 : 0;
  const tail = closes ? 1 : 0;
  const body = ids.slice(head, ids.length - tail);
  const keep = Math.max(0, maxLength - head - tail);
  const kept = from === 'left' ? body.slice(body.length - keep) : body.slice(0, keep);
  return [...ids.slice(0, head), ...kept, ...ids.slice(ids.length - tail)];
}

/** Token-array inputs must use ids the tokenizer knows (below `vocabularySize`): 400 otherwise. */
export function checkTokenIds(inputs: ReadonlyArray<string | readonly number[]>, vocabularySize: number, model: string, offset = 0): void {
  inputs.forEach((input, k) => {
    const bad = typeof input === 'string' ? undefined : input.find((id) => id >= vocabularySize);
    if (bad !== undefined)
      throw new AppError(
        ErrorCode.ValidationFailed,
        `input ${offset + k} has token id ${bad}; model "${model}" has ${vocabularySize} tokens`,
      );
  });
}

/** Sequence lengths are padded up to a multiple of this, so batches of similar texts share a shape. */
const LENGTH_BUCKET = 8;

export interface PaddedBatch {
  inputs: NamedTensors;
  rows: number;
  seqLength: number;
  /** Real tokens per row (special tokens included). */
  lengths: number[];
}

/** Pads ids into the model's inputs: input_ids, attention_mask and token_type_ids, as `names` lists. */
export function padIds(
  ids: readonly (readonly number[])[],
  names: readonly string[],
  padId: number,
  maxLength: number,
  model: string,
  /** Segment ids per row (text pairs); default all 0. */
  typeIds?: readonly (readonly number[])[],
): PaddedBatch {
  const rows = ids.length;
  let longest = 1;
  for (const row of ids) longest = Math.max(longest, row.length);
  const seqLength = Math.min(Math.max(longest, Math.ceil(longest / LENGTH_BUCKET) * LENGTH_BUCKET), Math.max(longest, maxLength));
  const inputIds = new BigInt64Array(rows * seqLength).fill(BigInt(padId));
  const mask = new BigInt64Array(rows * seqLength);
  const types = new BigInt64Array(rows * seqLength);
  for (let r = 0; r < rows; r += 1) {
    const row = ids[r]!;
    for (let c = 0; c < row.length; c += 1) {
      inputIds[r * seqLength + c] = BigInt(row[c]!);
      mask[r * seqLength + c] = 1n;
      types[r * seqLength + c] = BigInt(typeIds?.[r]?.[c] ?? 0);
    }
  }
  const shape = [rows, seqLength];
  const inputs: NamedTensors = {};
  for (const name of names) {
    let tensor: Tensor;
    if (name === 'input_ids') tensor = { datatype: 'INT64', shape, data: inputIds };
    else if (name === 'attention_mask') tensor = { datatype: 'INT64', shape, data: mask };
    else if (name === 'token_type_ids') tensor = { datatype: 'INT64', shape, data: types };
    else throw new AppError(ErrorCode.ModelLoadFailed, `model "${model}" has an input "${name}" the text routes cannot fill`);
    inputs[name] = tensor;
  }
  return { inputs, rows, seqLength, lengths: ids.map((r) => r.length) };
}

/**
 * One vector per row, rows × width values in one array: the model's own pooled output ([rows,
 * width], or pooling "none"), the first token ("cls"), the mean over each row's real tokens, or
 * SPLADE's max of log(1 + relu) over them ("splade"). L2-normalised when `normalize`.
 */
export function poolRows(output: Tensor, lengths: readonly number[], pooling: TextParameters['pooling'], normalize: boolean): Float32Array {
  const data = output.data as Float32Array;
  const rows = lengths.length;
  const width = output.shape.at(-1)!;
  const seqLength = output.shape.length === 3 ? output.shape[1]! : 1;
  const pooled = output.shape.length === 2 || pooling === 'none';
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r += 1) {
    const at = r * width;
    if (pooled) out.set(data.subarray(r * width, (r + 1) * width), at);
    else if (pooling === 'cls') out.set(data.subarray(r * seqLength * width, r * seqLength * width + width), at);
    else if (pooling === 'splade') {
      // SPLADE: log(1 + relu(x)) is 0 for x <= 0, so 0 is the max's floor.
      const start = r * seqLength * width;
      for (let t = 0; t < lengths[r]!; t += 1)
        for (let k = 0; k < width; k += 1) {
          const x = data[start + t * width + k]!;
          if (x > 0) out[at + k] = Math.max(out[at + k]!, Math.log1p(x));
        }
    } else {
      const n = lengths[r]!;
      const start = r * seqLength * width;
      for (let t = 0; t < n; t += 1) for (let k = 0; k < width; k += 1) out[at + k]! += data[start + t * width + k]!;
      // A text the tokenizer made no tokens of stays a zero vector.
      if (n > 0) for (let k = 0; k < width; k += 1) out[at + k]! /= n;
    }
    if (normalize) normaliseInPlace(out.subarray(at, at + width));
  }
  return out;
}

/** Scales v to unit L2 length; a zero vector stays zero. */
export function normaliseInPlace(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i += 1) sum += v[i]! * v[i]!;
  if (sum === 0) return v;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i += 1) v[i]! *= scale;
  return v;
}

/**
 * Rows in groups to run together: sorted by length, and a group closes before its padding would
 * exceed half its real tokens (plus a bucket per row), so one long text does not make a whole
 * batch of short ones pay for its length. Each group lists row indices.
 */
export function lengthGroups(lengths: readonly number[], maxRows: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const groups: number[][] = [];
  let group: number[] = [];
  let tokens = 0;
  for (const i of order) {
    const n = lengths[i]!;
    // Sorted ascending: this row is the group's longest so far.
    const padded = (group.length + 1) * n;
    if (group.length > 0 && (group.length >= maxRows || padded > 1.5 * (tokens + n) + LENGTH_BUCKET * (group.length + 1))) {
      groups.push(group);
      group = [];
      tokens = 0;
    }
    group.push(i);
    tokens += n;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

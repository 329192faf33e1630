/**
 * Pure pieces of TEI's routes: text pairs cut to a model's limit, token offsets in UTF-8 bytes,
 * scores of cross-encoder logits and their ranking. Unit-tested without a model.
 */
import type { Span } from './token-offsets.js';

/** A pair as the tokenizer encoded it: ids and segment ids with special tokens. */
export interface EncodedPair {
  ids: number[];
  typeIds: number[];
}

/**
 * A pair encoding cut to `maxLength` tokens the way Hugging Face's tokenizers do by default
 * (longest_first: a token off the longer segment at a time), keeping the special tokens the
 * template put around the segments. `first` and `second` are each segment's ids without special
 * tokens; they must appear in `pair` in order (true for BERT, RoBERTa and XLM-R templates),
 * else undefined.
 */
export function truncatePair(
  pair: EncodedPair,
  first: readonly number[],
  second: readonly number[],
  maxLength: number,
  from: 'left' | 'right',
): EncodedPair | undefined {
  const a = indexOfRun(pair.ids, first, 0);
  const b = a < 0 ? -1 : indexOfRun(pair.ids, second, a + first.length);
  if (a < 0 || b < 0) return undefined;
  const specials = pair.ids.length - first.length - second.length;
  let keepA = first.length;
  let keepB = second.length;
  while (keepA + keepB + specials > maxLength && keepA + keepB > 0) {
    if (keepA > keepB) keepA -= 1;
    else keepB -= 1;
  }
  if (keepA + keepB + specials > maxLength) return undefined;
  const cut = (run: readonly number[], keep: number) => (from === 'left' ? run.slice(run.length - keep) : run.slice(0, keep));
  const pieces: Array<[number, number, readonly number[], number]> = [
    [0, a, pair.ids.slice(0, a), -1],
    [a, a + first.length, cut(first, keepA), pair.typeIds[a] ?? 0],
    [a + first.length, b, pair.ids.slice(a + first.length, b), -1],
    [b, b + second.length, cut(second, keepB), pair.typeIds[b] ?? 0],
    [b + second.length, pair.ids.length, pair.ids.slice(b + second.length), -1],
  ];
  const out: EncodedPair = { ids: [], typeIds: [] };
  for (const [start, , ids, type] of pieces) {
    ids.forEach((id, k) => {
      out.ids.push(id);
      out.typeIds.push(type >= 0 ? type : (pair.typeIds[start + k] ?? 0));
    });
  }
  return out;
}

function indexOfRun(ids: readonly number[], run: readonly number[], from: number): number {
  if (run.length === 0) return from;
  for (let i = from; i + run.length <= ids.length; i += 1) {
    let k = 0;
    while (k < run.length && ids[i + k] === run[k]) k += 1;
    if (k === run.length) return i;
  }
  return -1;
}

/** Code-point spans of `text` as UTF-8 byte offsets (TEI's `start`/`stop`). */
export function byteSpan(text: string, span: Span): { start: number; stop: number; text: string } {
  const points = Array.from(text);
  const before = points.slice(0, span[0]).join('');
  const inside = points.slice(span[0], span[1]).join('');
  const start = Buffer.byteLength(before, 'utf8');
  return { start, stop: start + Buffer.byteLength(inside, 'utf8'), text: inside };
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** TEI's /rerank answer: best first, ties in input order; `text` only when asked for. */
export function rank(
  scores: readonly number[],
  texts: readonly string[],
  returnText: boolean,
): Array<{ index: number; score: number; text?: string }> {
  return scores
    .map((score, index) => ({ index, score, ...(returnText && { text: texts[index]! }) }))
    .sort((x, y) => y.score - x.score || x.index - y.index);
}

import type { SequenceRng } from './prng.js';
import type { TokenHistory } from './token-history.js';

/**
 * How one sequence picks its next token. Neutral values switch a step off: temperature 1, topK 0
 * (or -1, vLLM's spelling), topP 1, minP 0, repetitionPenalty 1, presence and frequency 0.
 */
export interface SamplingParams {
  /** Below 1e-5 (vLLM's epsilon) the choice is greedy: the highest processed logit, the lowest id on ties. */
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  /** Hugging Face semantics over prompt and generated tokens: positive logits divided, negative multiplied. */
  repetitionPenalty: number;
  /** OpenAI semantics over generated tokens: subtracted once from every token that has appeared. */
  presencePenalty: number;
  /** OpenAI semantics over generated tokens: subtracted once per appearance. */
  frequencyPenalty: number;
  /** OpenAI's logit_bias: added to the raw logits before anything else (vLLM's order). */
  logitBias?: ReadonlyMap<number, number>;
  /** Whether to compute the sampled token's log-probability (one more pass over the vocabulary). */
  logprobs: boolean;
  /** How many of the most likely tokens to report with each sampled one (0..20), when `logprobs` is set. */
  topLogprobs: number;
}

export const NEUTRAL_SAMPLING: Readonly<SamplingParams> = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logprobs: false,
  topLogprobs: 0,
});

export interface TokenLogprob {
  id: number;
  logprob: number;
}

/**
 * The chosen token and log-probabilities from the RAW logits (log-softmax of the model's output
 * before bias, penalties, temperature and filtering). vLLM's default (`logprobs_mode` raw_logprobs
 * since its V1 engine) reports the same; OpenAI's logprobs describe the model's distribution too.
 */
export interface SampledToken {
  id: number;
  /** Null unless `logprobs` was asked for. */
  logprob: number | null;
  /** The `topLogprobs` most likely tokens, highest first, the lower id first on equal values. */
  topLogprobs: TokenLogprob[];
}

/** The processed logits and the tokens still allowed after top-k, top-p and min-p (views into scratch). */
export interface Warped {
  logits: Float32Array;
  candidates: Int32Array;
}

const GREEDY_EPSILON = 1e-5;

/**
 * Picks next tokens for one model's sequences. It owns scratch buffers of the vocabulary's size,
 * reused by every call, so a step allocates only the small result; one Sampler serves every
 * sequence of a worker, one call at a time. Steps, in order (Hugging Face's and vLLM's): logit bias,
 * repetition penalty, frequency and presence penalties, temperature, top-k, top-p, min-p, then a
 * draw from the renormalised distribution with the sequence's own generator. (vLLM's V1 engine
 * applies min-p before top-k/top-p; the two orders differ only when top-p and min-p are both set.)
 * Without top-k and top-p nothing is sorted; top-k is a heap of k values; top-p takes tokens from a
 * heap of the candidates only until their mass reaches p.
 */
export class Sampler {
  private readonly work: Float32Array;
  private readonly weights: Float64Array;
  private readonly order: Int32Array;
  private readonly heap: Float32Array;
  private readonly boundary: Int32Array;
  private readonly bucketMass = new Float64Array(BUCKETS);

  constructor(readonly vocabSize: number) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RangeError(`vocabulary size must be a positive integer, not ${vocabSize}`);
    this.work = new Float32Array(vocabSize);
    this.weights = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
    this.heap = new Float32Array(vocabSize);
    this.boundary = new Int32Array(vocabSize);
  }

  sample(logits: Float32Array, params: SamplingParams, history: TokenHistory, rng: SequenceRng): SampledToken {
    this.checkRow(logits);
    const id = params.temperature < GREEDY_EPSILON ? this.greedy(logits, params, history) : this.draw(logits, params, history, rng);
    if (!params.logprobs) return { id, logprob: null, topLogprobs: [] };
    const logNorm = logSumExp(logits);
    return { id, logprob: logits[id]! - logNorm, topLogprobs: topLogprobs(logits, logNorm, params.topLogprobs) };
  }

  /** The steps before the draw, exposed so they can be checked against reference implementations. */
  warp(logits: Float32Array, params: SamplingParams, history: TokenHistory): Warped {
    this.checkRow(logits);
    const work = this.processed(logits, params, history);
    if (params.temperature !== 1) scale(work, params.temperature);
    const count = this.filter(work, params);
    return { logits: work, candidates: this.order.subarray(this.order.length - count) };
  }

  private checkRow(logits: Float32Array): void {
    if (logits.length !== this.vocabSize)
      throw new RangeError(`a logits row has ${logits.length} values; the vocabulary has ${this.vocabSize}`);
  }

  /** Logit bias and penalties, into the scratch copy. */
  private processed(logits: Float32Array, params: SamplingParams, history: TokenHistory): Float32Array {
    const work = this.work;
    work.set(logits);
    if (params.logitBias) for (const [id, bias] of params.logitBias) work[id] = work[id]! + bias;
    history.applyPenalties(work, params.repetitionPenalty, params.frequencyPenalty, params.presencePenalty);
    return work;
  }

  private greedy(logits: Float32Array, params: SamplingParams, history: TokenHistory): number {
    return argmax(this.processed(logits, params, history));
  }

  private draw(logits: Float32Array, params: SamplingParams, history: TokenHistory, rng: SequenceRng): number {
    const { logits: work, candidates } = this.warp(logits, params, history);
    const weights = this.weights;
    let total = 0;
    for (let i = 0; i < candidates.length; i += 1) total += weights[candidates[i]!]!;
    if (!(total > 0) || !Number.isFinite(total)) return argmax(work);
    let u = rng.nextFloat() * total;
    for (let i = 0; i < candidates.length; i += 1) {
      const id = candidates[i]!;
      u -= weights[id]!;
      if (u < 0) return id;
    }
    return candidates[candidates.length - 1]!;
  }

  /**
   * Leaves the kept token ids at the end of `order` (the count is returned) and their unnormalised
   * probabilities exp(logit - max) in `weights`.
   */
  private filter(work: Float32Array, params: SamplingParams): number {
    const order = this.order;
    const weights = this.weights;
    const n = work.length;
    const threshold = params.topK > 0 && params.topK < n ? kthLargest(work, params.topK, this.heap) : -Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i += 1) if (work[i]! > max) max = work[i]!;
    let count = 0;
    let mass = 0;
    for (let i = 0; i < n; i += 1) {
      const v = work[i]!;
      if (v < threshold) continue;
      const w = Math.exp(v - max);
      weights[i] = w;
      mass += w;
      order[n - 1 - count] = i;
      count += 1;
    }
    // The kept ids fill the end of `order` in descending id order; put them back in ascending order.
    order.subarray(n - count).reverse();
    if (params.topP < 1) count = this.topP(n - count, n, max, mass * params.topP);
    if (params.minP > 0) count = keepAtLeast(order, n - count, n, weights, params.minP);
    return count;
  }
  /**
   * Top-p over order[from..to) (Hugging Face's rule: drop a token when the ascending cumulative
   * probability up to it is at most 1 - p, i.e. keep it while the mass of the more likely tokens is
   * below p; the most likely token always stays). Without sorting: one pass adds the candidates'
   * mass into buckets of log-probability, which finds the bucket where the mass crosses `cut`; every
   * token above that bucket stays, every one below goes, and only the tokens of that one bucket are
   * ordered, by a heap popped until the mass is reached. Kept ids end up at the end of `order`.
   */
  private topP(from: number, to: number, max: number, cut: number): number {
    const { order, weights, work, bucketMass, boundary: inBoundary } = this;
    bucketMass.fill(0);
    for (let i = from; i < to; i += 1) bucketMass[bucketOf(work[order[i]!]! - max)]! += weights[order[i]!]!;
    let before = 0;
    let boundary = 0;
    while (boundary < BUCKETS - 1 && before + bucketMass[boundary]! < cut) before += bucketMass[boundary++]!;
    let write = to;
    let pending = 0;
    for (let read = to - 1; read >= from; read -= 1) {
      const id = order[read]!;
      const bucket = bucketOf(work[id]! - max);
      if (bucket < boundary) order[--write] = id;
      else if (bucket === boundary) inBoundary[pending++] = id;
    }
    const sure = to - write;
    const popped = popWhileBelow(inBoundary, pending, weights, before, cut, sure === 0);
    for (let i = 0; i < popped; i += 1) order[--write] = inBoundary[pending - 1 - i]!;
    return sure + popped;
  }
}

/** Index of the largest value, the lowest index on ties. */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}

/** log(sum(exp(x))) in double precision. */
export function logSumExp(values: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i += 1) if (values[i]! > max) max = values[i]!;
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let i = 0; i < values.length; i += 1) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}

/** The k largest log-probabilities, highest first, the lower id first on equal values. */
export function topLogprobs(logits: Float32Array, logNorm: number, k: number): TokenLogprob[] {
  if (k <= 0) return [];
  const ids: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < logits.length; i += 1) {
    const v = logits[i]!;
    if (ids.length === k && !(v > values[k - 1]!)) continue;
    let at = ids.length < k ? ids.length : k - 1;
    while (at > 0 && v > values[at - 1]!) {
      if (at < k) {
        ids[at] = ids[at - 1]!;
        values[at] = values[at - 1]!;
      }
      at -= 1;
    }
    ids[at] = i;
    values[at] = v;
  }
  return ids.map((id, i) => ({ id, logprob: values[i]! - logNorm }));
}

function scale(work: Float32Array, temperature: number): void {
  for (let i = 0; i < work.length; i += 1) work[i] = work[i]! / temperature;
}

/** The k-th largest value (k >= 1) by a min-heap of k values in `heap`: O(n log k), no sort. */
function kthLargest(values: Float32Array, k: number, heap: Float32Array): number {
  let size = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    if (size < k) {
      let at = size;
      size += 1;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (heap[parent]! <= v) break;
        heap[at] = heap[parent]!;
        at = parent;
      }
      heap[at] = v;
    } else if (v > heap[0]!) {
      siftDownMin(heap, size, v);
    }
  }
  return heap[0]!;
}

function siftDownMin(heap: Float32Array, size: number, v: number): void {
  let at = 0;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child += 1;
    if (heap[child]! >= v) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = v;
}

const BUCKETS = 2048;
/** Log-probabilities (relative to the most likely token) the top-p buckets cover; anything less likely shares the last bucket. */
const BUCKET_SPAN = 64;

function bucketOf(logWeight: number): number {
  const bucket = Math.floor(-logWeight * (BUCKETS / BUCKET_SPAN));
  return bucket < BUCKETS ? bucket : BUCKETS - 1;
}

/**
 * Pops ids[0..size) from a max-heap (by weight, the lower id first on ties) while the mass before
 * each one is below `cut` (the first one always when `keepFirst`). The popped ids end up at the end
 * of ids[0..size), the first popped last. Returns how many were popped.
 */
function popWhileBelow(ids: Int32Array, size: number, weights: Float64Array, before: number, cut: number, keepFirst: boolean): number {
  const first = (a: number, b: number): boolean => weights[a]! > weights[b]! || (weights[a] === weights[b] && a < b);
  for (let i = (size >> 1) - 1; i >= 0; i -= 1) siftDownMax(ids, 0, size, i, first);
  let mass = before;
  let popped = 0;
  while (popped < size && ((keepFirst && popped === 0) || mass < cut)) {
    const last = size - 1 - popped;
    const top = ids[0]!;
    ids[0] = ids[last]!;
    ids[last] = top;
    mass += weights[top]!;
    popped += 1;
    siftDownMax(ids, 0, size - popped, 0, first);
  }
  return popped;
}

function siftDownMax(order: Int32Array, from: number, size: number, start: number, before: (a: number, b: number) => boolean): void {
  let at = start;
  const item = order[from + at]!;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && before(order[from + child + 1]!, order[from + child]!)) child += 1;
    if (!before(order[from + child]!, item)) break;
    order[from + at] = order[from + child]!;
    at = child;
  }
  order[from + at] = item;
}

/**
 * Min-p over order[from..to): keeps tokens whose probability is at least minP times the largest
 * (weights are exp(logit - max), so the largest is 1). Kept tokens are moved to the end, in order.
 */
function keepAtLeast(order: Int32Array, from: number, to: number, weights: Float64Array, minP: number): number {
  let write = to;
  for (let read = to - 1; read >= from; read -= 1) {
    const id = order[read]!;
    if (weights[id]! >= minP) order[--write] = id;
  }
  return to - write;
}

import type { SequenceRng } from './prng.js';
import type { TokenHistory } from './token-history.js';
import { keepAtLeast, kthLargest, topP, FilterScratch } from './top-filters.js';

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

/** The sampling fields a model's generation_config.json may give defaults for (vLLM reads the same ones). */
export const DEFAULTABLE_SAMPLING = ['temperature', 'topP', 'topK', 'minP', 'repetitionPenalty'] as const;
export type DefaultableSampling = (typeof DEFAULTABLE_SAMPLING)[number];

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
 * Nothing sorts the vocabulary: top-k keeps a heap of k values, top-p finds its cut with buckets of
 * log-probability and orders the tokens of one bucket only (top-filters.ts).
 */
export class Sampler {
  private readonly work: Float32Array;
  private readonly weights: Float64Array;
  private readonly order: Int32Array;
  private readonly scratch: FilterScratch;

  constructor(readonly vocabSize: number) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RangeError(`vocabulary size must be a positive integer, not ${vocabSize}`);
    this.work = new Float32Array(vocabSize);
    this.weights = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
    this.scratch = new FilterScratch(this.order, this.weights);
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
    return argmax(untouched(params) ? logits : this.processed(logits, params, history));
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
    const threshold = params.topK > 0 && params.topK < n ? kthLargest(work, params.topK, this.scratch.heap) : -Infinity;
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
    if (params.topP < 1) count = topP(this.scratch, work, max, n - count, n, mass * params.topP);
    if (params.minP > 0) count = keepAtLeast(order, n - count, n, weights, params.minP);
    return count;
  }
}

/** Whether no logit bias or penalty changes the logits before the choice. */
function untouched(params: SamplingParams): boolean {
  return !params.logitBias?.size && params.repetitionPenalty === 1 && params.frequencyPenalty === 0 && params.presencePenalty === 0;
}

/**
 * Whether these parameters choose the largest raw logit (the lowest id on ties) and read nothing
 * else of the logits: greedy, with no bias, penalty or logprobs. Such a sequence's token can come
 * from the graph's own ArgMax (DecodeEngine's greedy steps).
 */
export function plainGreedy(params: SamplingParams): boolean {
  return params.temperature < GREEDY_EPSILON && !params.logprobs && untouched(params);
}

/** Index of the largest value, the lowest index on ties. */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * exp(-k / EXP_STEPS) for k = 0 .. EXP_STEPS * log2(e) * EXP_RANGE: the table logSumExp reduces
 * its arguments to. Terms more than EXP_RANGE below the maximum (e^-50 < 2e-22 each, beside the
 * maximum's 1) are below a double's precision even summed over millions of tokens, and skipped.
 */
const EXP_STEPS = 32;
const EXP_RANGE = 50;
const EXP_SCALE = EXP_STEPS * Math.LOG2E;
// ln(2) / EXP_STEPS split in two (Cody-Waite), so k * ln2/EXP_STEPS is exact to double precision.
const LN2_STEP_HI = 0.6931471803691238 / EXP_STEPS;
const LN2_STEP_LO = 1.9082149292705877e-10 / EXP_STEPS;
const EXP_TABLE = Float64Array.from({ length: Math.ceil(EXP_RANGE * EXP_SCALE) + 2 }, (_, k) => 2 ** (-k / EXP_STEPS));

/**
 * log(sum(exp(x))) in double precision. `max` may be given when known (the greedy token's logit).
 * exp(d) for d = x - max <= 0 is 2^(-k/32) from a table times exp(r), |r| <= ln2/64, from a
 * degree-4 polynomial (relative error below 2e-12): about 2x faster than Math.exp per element,
 * which matters at 32 000+ logits per token and 16 sequences per step.
 */
export function logSumExp(values: Float32Array, max = maxOf(values)): number {
  if (!Number.isFinite(max)) return max;
  const table = EXP_TABLE;
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i += 1) {
    const d = values[i]! - max;
    if (d < -EXP_RANGE) continue; // (a NaN goes on, and makes the sum NaN as Math.exp would)
    const k = (0.5 - d * EXP_SCALE) | 0;
    const r = d + k * LN2_STEP_HI + k * LN2_STEP_LO;
    sum += table[k]! * (1 + r * (1 + r * (0.5 + r * (0.16666666666666666 + r * 0.041666666666666664))));
  }
  return max + Math.log(sum);
}

function maxOf(values: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i += 1) if (values[i]! > max) max = values[i]!;
  return max;
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

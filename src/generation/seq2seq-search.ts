/**
 * How an encoder-decoder request picks its tokens, step by step, as pure functions over logits rows:
 * the logits rules of Hugging Face's generate() that seq2seq checkpoints rely on (forced BOS for
 * M2M100/NLLB, forced EOS at the length limit, bad words, min length, no-repeat n-grams), then
 * greedy or sampled decoding of one row, or beam search over `numBeams` rows. The engine runs the
 * model; a search only says, per step, which rows continue (`parents`) with which token.
 */
import { logSumExp, Sampler, type SamplingParams } from './sampler.js';
import type { SequenceRng } from './prng.js';
import { TokenHistory } from './token-history.js';

/** The most beams one request may ask for: its rows share the model's batch with other requests. */
export const MAX_BEAMS = 8;

export interface LogitsRules {
  /** Tokens that end a sequence. */
  eos: readonly number[];
  /** Tokens a sequence may add at most (the final one may be a forced EOS). */
  maxNewTokens: number;
  /** Forced as the first generated token (M2M100, NLLB: the target language). */
  forcedBos?: number;
  /** Forced as the last token the length limit allows (Marian, BART: EOS). */
  forcedEos?: number;
  /** Single tokens never generated (generation_config bad_words_ids of length 1: Marian's pad). */
  badTokens: readonly number[];
  /** EOS is not allowed before this many generated tokens. */
  minNewTokens: number;
  /** An n-gram of this size never repeats in the generated tokens (0: off). */
  noRepeatNgram: number;
}

/** One step's choice: row i of the next step continues row parents[i] of this step with tokens[i]. */
export interface SearchStep {
  parents: number[];
  tokens: number[];
  /** No row continues: the result is final. */
  done: boolean;
}

export interface Search {
  /** Rows the next step runs (beam search: 1 at the first step, then numBeams). */
  readonly rows: number;
  step(logits: readonly Float32Array[]): SearchStep;
  /** The generated tokens, EOS excluded. */
  result(): number[];
}

/** Sets to -Infinity what the rules forbid after `generated` (the tokens so far), in place. */
export function applyRules(scores: Float32Array, generated: readonly number[], rules: LogitsRules): void {
  const step = generated.length;
  const only = (token: number) => {
    const keep = scores[token]!;
    scores.fill(-Infinity);
    scores[token] = keep;
  };
  if (step === 0 && rules.forcedBos !== undefined) return only(rules.forcedBos);
  if (step === rules.maxNewTokens - 1 && rules.forcedEos !== undefined) return only(rules.forcedEos);
  for (const token of rules.badTokens) scores[token] = -Infinity;
  if (step < rules.minNewTokens) for (const token of rules.eos) scores[token] = -Infinity;
  const n = rules.noRepeatNgram;
  if (n > 0 && step + 1 >= n) {
    // Every earlier n-gram whose first n-1 tokens equal the last n-1 generated bans its last token.
    const tail = generated.slice(step - n + 1);
    for (let start = 0; start + n <= step; start += 1) {
      let same = true;
      for (let k = 0; k < n - 1 && same; k += 1) same = generated[start + k] === tail[k];
      if (same) scores[generated[start + n - 1]!] = -Infinity;
    }
  }
}

/** One row: greedy (temperature 0) or sampled, through the LLM engine's Sampler. */
export class SingleSearch implements Search {
  readonly rows = 1;
  private readonly tokens: number[] = [];
  private readonly history = new TokenHistory();
  private readonly scratch: Float32Array;

  constructor(
    private readonly sampler: Sampler,
    private readonly rules: LogitsRules,
    private readonly sampling: SamplingParams,
    private readonly rng: SequenceRng,
  ) {
    this.scratch = new Float32Array(sampler.vocabSize);
  }

  step(logits: readonly Float32Array[]): SearchStep {
    const row = this.scratch;
    row.set(logits[0]!);
    applyRules(row, this.tokens, this.rules);
    const token = this.sampler.sample(row, this.sampling, this.history, this.rng).id;
    const done = this.rules.eos.includes(token) || this.tokens.length + 1 >= this.rules.maxNewTokens;
    if (!this.rules.eos.includes(token)) this.tokens.push(token);
    this.history.push(token);
    return { parents: [0], tokens: [token], done };
  }

  result(): number[] {
    return [...this.tokens];
  }
}

export interface BeamOptions {
  numBeams: number;
  /** Hugging Face's: a finished hypothesis scores sum(logprobs) / generatedLength ** lengthPenalty. */
  lengthPenalty: number;
  /** Hugging Face's: true stops at numBeams finished; false when no running beam can beat them; 'never' bounds by the length limit. */
  earlyStopping: boolean | 'never';
}

interface Hypothesis {
  tokens: number[];
  score: number;
}

interface Beam {
  tokens: number[];
  sum: number;
}

/**
 * Beam search as Hugging Face's BeamSearchScorer defines it: at each step the 2 x numBeams best
 * (beam, token) candidates by summed log-probability; a candidate ending in EOS among the first
 * numBeams becomes a finished hypothesis (scored with the length penalty, EOS counted in the
 * length), the others fill the next beams; at the length limit the running beams are finished too,
 * and the best-scoring hypothesis wins (the one added last among equal scores).
 */
export class BeamSearch implements Search {
  private beams: Beam[] = [{ tokens: [], sum: 0 }];
  private readonly finished: Hypothesis[] = [];
  private worst = 1e9;
  private over = false;
  private readonly scratch: Float32Array;

  constructor(
    vocabSize: number,
    private readonly rules: LogitsRules,
    private readonly options: BeamOptions,
  ) {
    if (!Number.isInteger(options.numBeams) || options.numBeams < 1) throw new RangeError(`numBeams must be a positive integer`);
    this.scratch = new Float32Array(vocabSize);
  }

  get rows(): number {
    return this.beams.length;
  }

  step(logits: readonly Float32Array[]): SearchStep {
    const { numBeams } = this.options;
    const want = 2 * numBeams;
    // The best `want` (score, beam, token) over every beam's row, best first (lower beam, then lower token on ties).
    const top: Array<{ score: number; beam: number; token: number }> = [];
    this.beams.forEach((beam, b) => {
      const row = this.scratch;
      row.set(logits[b]!);
      const norm = logSumExp(row);
      for (let v = 0; v < row.length; v += 1) row[v] = row[v]! - norm;
      applyRules(row, beam.tokens, this.rules);
      for (let v = 0; v < row.length; v += 1) {
        const score = row[v]! + beam.sum;
        if (score === -Infinity) continue;
        if (top.length === want && score <= top[want - 1]!.score) continue;
        let at = top.length;
        while (at > 0 && top[at - 1]!.score < score) at -= 1;
        top.splice(at, 0, { score, beam: b, token: v });
        if (top.length > want) top.pop();
      }
    });
    const generated = this.beams[0]!.tokens.length + 1;
    const next: Beam[] = [];
    const parents: number[] = [];
    const tokens: number[] = [];
    for (const [rank, c] of top.entries()) {
      if (this.rules.eos.includes(c.token)) {
        if (rank < numBeams) this.add(this.beams[c.beam]!.tokens, c.score, generated);
        continue;
      }
      next.push({ tokens: [...this.beams[c.beam]!.tokens, c.token], sum: c.score });
      parents.push(c.beam);
      tokens.push(c.token);
      if (next.length === numBeams) break;
    }
    const best = top.length > 0 ? top[0]!.score : -Infinity;
    if (next.length === 0 || this.isDone(best, generated - 1)) return this.finish([]);
    this.beams = next;
    if (generated >= this.rules.maxNewTokens) return this.finish(next);
    return { parents, tokens, done: false };
  }

  result(): number[] {
    if (!this.over) throw new Error('the beam search has not finished');
    let best: Hypothesis | undefined;
    for (const h of this.finished) if (!best || h.score >= best.score) best = h;
    return best ? [...best.tokens] : [];
  }

  /** Scores and keeps a hypothesis if it is among the numBeams best (BeamHypotheses.add). */
  private add(tokens: number[], sum: number, generated: number): void {
    const score = sum / generated ** this.options.lengthPenalty;
    if (this.finished.length < this.options.numBeams || score > this.worst) {
      this.finished.push({ tokens, score });
      if (this.finished.length > this.options.numBeams) {
        const order = this.finished.map((h, i) => ({ s: h.score, i })).sort((a, b) => a.s - b.s || a.i - b.i);
        this.finished.splice(order[0]!.i, 1);
        this.worst = order[1]!.s;
      } else {
        this.worst = Math.min(score, this.worst);
      }
    }
  }

  /** BeamHypotheses.is_done: `best` is the best candidate's summed log-probability, `length` the tokens generated before this step. */
  private isDone(best: number, length: number): boolean {
    if (this.finished.length < this.options.numBeams) return false;
    const { earlyStopping, lengthPenalty } = this.options;
    if (earlyStopping === true) return true;
    const bound = earlyStopping === 'never' && lengthPenalty > 0 ? this.rules.maxNewTokens : length;
    return this.worst >= best / bound ** lengthPenalty;
  }

  /** The length limit (or nothing left to run): the running beams become hypotheses too. */
  private finish(running: Beam[]): SearchStep {
    for (const beam of running) this.add(beam.tokens, beam.sum, beam.tokens.length);
    this.over = true;
    this.beams = [];
    return { parents: [], tokens: [], done: true };
  }
}

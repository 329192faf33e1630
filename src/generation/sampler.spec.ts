import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepetitionPenaltyLogitsProcessor, Tensor, TemperatureLogitsWarper, topk } from '@huggingface/transformers';
import { choiceSeed, SequenceRng } from './prng.js';
import { logSumExp, NEUTRAL_SAMPLING, Sampler, type SamplingParams } from './sampler.js';
import { TokenHistory } from './token-history.js';

const params = (over: Partial<SamplingParams>): SamplingParams => ({ ...NEUTRAL_SAMPLING, ...over });
const row = (values: number[]): Float32Array => Float32Array.from(values);
const lse = (values: number[]): number => Math.log(values.reduce((s, v) => s + Math.exp(v), 0));

/** Deterministic pseudo-random logits in [-8, 8) (a separate generator from the one under test). */
function randomLogits(n: number, seed: number): Float32Array {
  let x = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 1) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 4294967296) * 16 - 8;
  }
  return out;
}

function sortedIds(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}

describe('Sampler: exact values on small logits', () => {
  it('greedy (temperature 0) takes the highest logit, the lowest id on a tie, with the raw log-softmax', () => {
    const logits = [1, 3, 3, 2];
    const out = new Sampler(4).sample(
      row(logits),
      params({ temperature: 0, logprobs: true, topLogprobs: 3 }),
      new TokenHistory(),
      new SequenceRng(1),
    );
    assert.equal(out.id, 1);
    assert.ok(Math.abs(out.logprob! - (3 - lse(logits))) < 1e-12);
    assert.deepEqual(
      out.topLogprobs.map((t) => t.id),
      [1, 2, 3],
    );
    assert.ok(Math.abs(out.topLogprobs[2]!.logprob - (2 - lse(logits))) < 1e-12);
  });

  it('repetition penalty divides positive and multiplies negative logits of prompt and output tokens, once each', () => {
    const history = new TokenHistory([0, 1, 1]);
    history.push(3);
    history.push(3);
    const { logits } = new Sampler(5).warp(row([2, -2, 1, 0.5, 4]), params({ repetitionPenalty: 2 }), history);
    assert.deepEqual([...logits], [1, -4, 1, 0.25, 4]);
  });

  it('frequency and presence penalties count generated tokens only; logit bias comes first', () => {
    const history = new TokenHistory([0]);
    for (const id of [2, 2, 3]) history.push(id);
    const bias = new Map([[1, -1.5]]);
    const { logits } = new Sampler(4).warp(
      row([1, 1, 1, 1]),
      params({ frequencyPenalty: 0.5, presencePenalty: 0.25, logitBias: bias }),
      history,
    );
    assert.deepEqual([...logits], [1, -0.5, 1 - 1 - 0.25, 1 - 0.5 - 0.25]);
  });

  it('penalties also steer greedy decoding; the logprob stays that of the raw logits', () => {
    const history = new TokenHistory([1]);
    const out = new Sampler(3).sample(
      row([0, 2, 1.5]),
      params({ temperature: 0, repetitionPenalty: 2, logprobs: true }),
      history,
      new SequenceRng(1),
    );
    assert.equal(out.id, 2);
    assert.ok(Math.abs(out.logprob! - (1.5 - lse([0, 2, 1.5]))) < 1e-12);
    assert.deepEqual(out.topLogprobs, []);
  });

  it('top-k, top-p and min-p keep the expected tokens of probabilities 0.5, 0.25, 0.15, 0.1', () => {
    const logits = row([0.5, 0.25, 0.15, 0.1].map(Math.log));
    const sampler = new Sampler(4);
    const kept = (over: Partial<SamplingParams>) => sortedIds(sampler.warp(logits, params(over), new TokenHistory()).candidates);
    assert.deepEqual(kept({}), [0, 1, 2, 3]);
    assert.deepEqual(kept({ topK: 3 }), [0, 1, 2]);
    assert.deepEqual(kept({ topK: 1 }), [0]);
    assert.deepEqual(kept({ topK: -1 }), [0, 1, 2, 3]);
    assert.deepEqual(kept({ topP: 0.7 }), [0, 1]);
    assert.deepEqual(kept({ topP: 0.8 }), [0, 1, 2]);
    assert.deepEqual(kept({ topP: 0.01 }), [0]);
    assert.deepEqual(kept({ minP: 0.4 }), [0, 1]);
    assert.deepEqual(kept({ topK: 3, topP: 0.9 }), [0, 1, 2]);
    assert.deepEqual(kept({ topP: 0.8, minP: 0.45 }), [0, 1]);
  });

  it('top-k keeps every token tied with the k-th value (Hugging Face and vLLM compare against its value)', () => {
    const { candidates } = new Sampler(5).warp(row([1, 3, 2, 2, 0]), params({ topK: 2 }), new TokenHistory());
    assert.deepEqual(sortedIds(candidates), [1, 2, 3]);
  });

  it('a single remaining candidate is always drawn', () => {
    const sampler = new Sampler(4);
    const rng = new SequenceRng(7);
    for (let i = 0; i < 50; i += 1) {
      assert.equal(sampler.sample(row([0.1, 2, 1.9, -1]), params({ topK: 1 }), new TokenHistory(), rng).id, 1);
    }
  });

  it('without logprobs asked for, reports none (no pass over the vocabulary for them)', () => {
    const out = new Sampler(3).sample(row([0, 2, 1.5]), params({ temperature: 0, topLogprobs: 2 }), new TokenHistory(), new SequenceRng(1));
    assert.deepEqual(out, { id: 1, logprob: null, topLogprobs: [] });
  });

  it('a sampled token reports the raw log-softmax whatever temperature and filters chose it', () => {
    const logits = [1, 2, 3, 0];
    const out = new Sampler(4).sample(
      row(logits),
      params({ temperature: 0.5, topK: 1, logprobs: true, topLogprobs: 2 }),
      new TokenHistory(),
      new SequenceRng(3),
    );
    assert.equal(out.id, 2);
    assert.ok(Math.abs(out.logprob! - (3 - lse(logits))) < 1e-12);
    assert.deepEqual(
      out.topLogprobs.map((t) => t.id),
      [2, 1],
    );
  });

  it('refuses a row whose length is not the vocabulary size', () => {
    assert.throws(() => new Sampler(4).sample(row([1, 2]), params({}), new TokenHistory(), new SequenceRng(1)), RangeError);
  });
});

describe('logSumExp (table and polynomial exp)', () => {
  /** The textbook definition with Math.exp, in double precision. */
  const reference = (values: Float32Array): number => {
    const max = values.reduce((m, v) => Math.max(m, v), -Infinity);
    let sum = 0;
    for (const v of values) sum += Math.exp(v - max);
    return max + Math.log(sum);
  };

  it('agrees with Math.exp to 2e-12 over 32,000 and 151,936 logits of narrow, wide and peaked spreads', () => {
    const rng = new SequenceRng(7);
    for (const size of [32_000, 151_936]) {
      for (const spread of [0.01, 5, 30, 200]) {
        const values = Float32Array.from({ length: size }, () => (rng.nextFloat() - 0.5) * spread);
        values[size >> 1] = 40; // one peaked token
        const got = logSumExp(values);
        assert.ok(Math.abs(got - reference(values)) < 2e-12, `size ${size}, spread ${spread}: ${got} vs ${reference(values)}`);
      }
    }
  });

  it('agrees to 2e-12 on two-token rows at every 1/64 step down to 60 below the maximum', () => {
    assert.equal(logSumExp(Float32Array.of(0)), 0);
    assert.ok(Math.abs(logSumExp(Float32Array.of(0, 0)) - Math.LN2) < 1e-15);
    for (let d = 0; d >= -60; d -= 1 / 64) {
      const row = Float32Array.of(0, d);
      assert.ok(Math.abs(logSumExp(row) - reference(row)) < 2e-12, `d = ${d}`);
    }
  });

  it('keeps the edge cases of the definition: -Infinity rows, +Infinity, NaN, and a given maximum', () => {
    assert.equal(logSumExp(Float32Array.of(-Infinity, -Infinity)), -Infinity);
    assert.equal(logSumExp(Float32Array.of(1, -Infinity)), 1);
    assert.equal(logSumExp(Float32Array.of(1, Infinity)), Infinity);
    assert.ok(Number.isNaN(logSumExp(Float32Array.of(1, NaN, 2))));
    const row = Float32Array.of(3, 1, 2);
    assert.equal(logSumExp(row, 3), logSumExp(row));
  });
});

describe('SequenceRng', () => {
  it('seeds xoshiro128** with splitmix64 (published first outputs of splitmix64 from 0)', () => {
    // splitmix64 from state 0 gives 0xe220a8397b1dcdaf, then 0x6e789e6aa1b965f4.
    const s1 = 0xe220a839n;
    const first = ((((s1 * 5n) & 0xffffffffn) << 7n) | (((s1 * 5n) & 0xffffffffn) >> 25n)) & 0xffffffffn;
    assert.equal(new SequenceRng(0).nextUint32(), Number((first * 9n) & 0xffffffffn));
  });

  it('gives the same stream for the same seed, another for another seed, and floats in [0, 1)', () => {
    const a = new SequenceRng(42);
    const b = new SequenceRng(42);
    const c = new SequenceRng(choiceSeed(42, 1));
    const xs = Array.from({ length: 100 }, () => a.nextFloat());
    assert.deepEqual(
      Array.from({ length: 100 }, () => b.nextFloat()),
      xs,
    );
    assert.notDeepEqual(
      Array.from({ length: 100 }, () => c.nextFloat()),
      xs,
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.equal(new SequenceRng(-1).nextUint32(), new SequenceRng(-1).nextUint32());
    assert.throws(() => new SequenceRng(0.5), RangeError);
    const top = Number.MAX_SAFE_INTEGER;
    assert.deepEqual(
      [0, 1, 2].map((i) => choiceSeed(top, i)),
      [top, top - 1, top - 2],
    );
    assert.deepEqual(
      [0, 1, 2].map((i) => choiceSeed(-5, i)),
      [-5, -4, -3],
    );
  });

  it('makes a seeded request reproducible: the same seed and logits give the same tokens', () => {
    const sampler = new Sampler(500);
    const run = (seed: number) => {
      const rng = new SequenceRng(seed);
      const history = new TokenHistory([1, 2, 3]);
      const ids: number[] = [];
      for (let step = 0; step < 40; step += 1) {
        const { id } = sampler.sample(
          randomLogits(500, step),
          params({ temperature: 0.9, topP: 0.95, repetitionPenalty: 1.1, presencePenalty: 0.2 }),
          history,
          rng,
        );
        history.push(id);
        ids.push(id);
      }
      return ids;
    };
    assert.deepEqual(run(1234), run(1234));
    assert.notDeepEqual(run(1234), run(1235));
  });
});

describe('Sampler against Transformers.js 4.3.2 and Hugging Face reference rules (random logits, 1e-6)', () => {
  const VOCAB = 1000;

  it('temperature matches TemperatureLogitsWarper', () => {
    for (const temperature of [0.3, 0.7, 1.6]) {
      const logits = randomLogits(VOCAB, temperature * 10);
      const reference = new TemperatureLogitsWarper(temperature)([[0n]], new Tensor('float32', logits.slice(), [1, VOCAB])) as Tensor;
      const ours = new Sampler(VOCAB).warp(logits, params({ temperature }), new TokenHistory()).logits;
      assertClose(ours, reference.data as Float32Array, 1e-6);
    }
  });

  it('repetition penalty matches RepetitionPenaltyLogitsProcessor over prompt + output ids', () => {
    const ids = [5, 17, 17, 999, 0, 400, 401, 5];
    for (const penalty of [1.3, 0.8]) {
      const logits = randomLogits(VOCAB, penalty * 100);
      const processor = new RepetitionPenaltyLogitsProcessor(penalty);
      const batch = new Tensor('float32', logits.slice(), [1, VOCAB]);
      processor([ids.map(BigInt)], batch);
      const history = new TokenHistory(ids.slice(0, 4));
      for (const id of ids.slice(4)) history.push(id);
      const ours = new Sampler(VOCAB).warp(logits, params({ repetitionPenalty: penalty }), history).logits;
      assertClose(ours, batch.data as Float32Array, 1e-6);
    }
  });

  it('top-k keeps the ids of Transformers.js topk (what its MultinomialSampler draws from)', async () => {
    // Transformers.js 4.3.2's TopKLogitsWarper and TopPLogitsWarper have no _call (they throw when
    // applied); its MultinomialSampler restricts the draw to topk(logits, top_k) instead.
    for (const k of [1, 5, 50, 999]) {
      const logits = randomLogits(VOCAB, k);
      const [, indices] = await topk(new Tensor('float32', logits.slice(), [1, VOCAB]), k);
      const expected = sortedIds(Array.from(indices.data as BigInt64Array, Number));
      assert.deepEqual(sortedIds(new Sampler(VOCAB).warp(logits, params({ topK: k }), new TokenHistory()).candidates), expected);
    }
  });

  it("top-p and min-p match Hugging Face's TopPLogitsWarper and MinPLogitsWarper rules, after temperature and top-k", () => {
    for (const [i, over] of [
      { topP: 0.9 },
      { topP: 0.5, temperature: 0.7 },
      { topP: 0.95, topK: 40, temperature: 1.3 },
      { minP: 0.05 },
      { topP: 0.9, minP: 0.1, temperature: 0.8 },
    ].entries()) {
      const logits = randomLogits(VOCAB, 77 + i);
      const p = params(over);
      const expected = referenceKept(logits, p);
      const warped = new Sampler(VOCAB).warp(logits, p, new TokenHistory());
      assert.deepEqual(sortedIds(warped.candidates), expected, JSON.stringify(over));
    }
  });
});

describe('Sampler: top-p over a 151,936-token vocabulary', () => {
  it('keeps exactly the tokens a full descending sort keeps (ties: the lower id first), for flat, peaked and tied logits', () => {
    const V = 151_936;
    const flat = randomLogits(V, 5);
    const peaked = randomLogits(V, 6).map((v, i) => (i % 1000 === 0 ? v + 12 : v));
    const tied = randomLogits(V, 7).map((v) => Math.round(v));
    const sampler = new Sampler(V);
    for (const [name, logits, topP] of [
      ['flat', flat, 0.9],
      ['peaked', peaked, 0.5],
      ['tied', tied, 0.7],
      ['tied', tied, 0.999],
    ] as const) {
      const kept = sortedIds(sampler.warp(logits, params({ topP }), new TokenHistory()).candidates);
      assert.deepEqual(kept, descendingTopP(logits, topP), `${name} ${topP}`);
    }
  });
});

/** Top-p by a full sort, most likely first and the lower id first on ties: keep while the mass before is below p. */
function descendingTopP(logits: Float32Array, topP: number): number[] {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const weights = Array.from(logits, (v) => Math.exp(v - max));
  const total = weights.reduce((a, b) => a + b, 0);
  const ids = weights.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
  const kept: number[] = [];
  let mass = 0;
  for (const id of ids) {
    if (kept.length > 0 && mass >= topP * total) break;
    kept.push(id);
    mass += weights[id]!;
  }
  return sortedIds(kept);
}

describe('Sampler: the distribution of draws', () => {
  it('10,000 seeded draws match the softmax: each frequency within 4 standard errors, chi-square below the 0.999 quantile', () => {
    const logits = [2, 1.5, 1, 0.5, 0, -0.5, -1, -3];
    const counts = draw(logits, params({}), 10_000);
    assertMatches(counts, softmax(logits), 10_000, 24.32); // chi-square, 7 degrees of freedom, p = 0.999
  });

  it('with temperature 0.7 and top-k 3 the draws match the renormalised top three', () => {
    const logits = [2, 1.5, 1, 0.5, 0, -0.5, -1, -3];
    const counts = draw(logits, params({ temperature: 0.7, topK: 3 }), 10_000);
    const expected = softmax(logits.slice(0, 3).map((v) => v / 0.7)).concat([0, 0, 0, 0, 0]);
    assert.deepEqual(counts.slice(3), [0, 0, 0, 0, 0]);
    assertMatches(counts.slice(0, 3), expected.slice(0, 3), 10_000, 13.82); // 2 degrees of freedom, p = 0.999
  });
});

function draw(logits: number[], p: SamplingParams, n: number): number[] {
  const sampler = new Sampler(logits.length);
  const rng = new SequenceRng(2024);
  const counts = logits.map(() => 0);
  const input = row(logits);
  for (let i = 0; i < n; i += 1) counts[sampler.sample(input, p, new TokenHistory(), rng).id]! += 1;
  return counts;
}

function softmax(values: number[]): number[] {
  const z = lse(values);
  return values.map((v) => Math.exp(v - z));
}

function assertMatches(counts: number[], probs: number[], n: number, chiSquareBound: number): void {
  let chi = 0;
  counts.forEach((c, i) => {
    const p = probs[i]!;
    const se = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(c / n - p) < 4 * se, `token ${i}: frequency ${c / n}, probability ${p}`);
    chi += (c - n * p) ** 2 / (n * p);
  });
  assert.ok(chi < chiSquareBound, `chi-square ${chi}`);
}

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i += 1) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

/**
 * Hugging Face's warpers written out over the whole vocabulary with a full sort: temperature, then
 * top-k (values below the k-th largest removed), top-p (sorted ascending, tokens whose cumulative
 * probability is at most 1 - p removed, the most likely kept), min-p (probability below min_p times
 * the largest removed).
 */
function referenceKept(logits: Float32Array, p: SamplingParams): number[] {
  const scaled = Array.from(logits, (v) => Math.fround(v / p.temperature));
  let alive = scaled.map((_, i) => i);
  if (p.topK > 0) {
    const kth = [...scaled].sort((a, b) => b - a)[p.topK - 1]!;
    alive = alive.filter((i) => scaled[i]! >= kth);
  }
  const probsOf = (ids: number[]) => {
    const z = lse(ids.map((i) => scaled[i]!));
    return new Map(ids.map((i) => [i, Math.exp(scaled[i]! - z)]));
  };
  if (p.topP < 1) {
    const probs = probsOf(alive);
    const ascending = [...alive].sort((a, b) => probs.get(a)! - probs.get(b)!);
    let cumulative = 0;
    const removed = new Set<number>();
    ascending.forEach((id, rank) => {
      cumulative += probs.get(id)!;
      if (cumulative <= 1 - p.topP && rank < ascending.length - 1) removed.add(id);
    });
    alive = alive.filter((i) => !removed.has(i));
  }
  if (p.minP > 0) {
    const probs = probsOf(alive);
    const top = Math.max(...probs.values());
    alive = alive.filter((i) => probs.get(i)! >= p.minP * top);
  }
  return sortedIds(alive);
}

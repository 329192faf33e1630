import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SequenceRng } from './prng.js';
import { NEUTRAL_SAMPLING, Sampler } from './sampler.js';
import { applyRules, BeamSearch, type LogitsRules, type Search, SingleSearch } from './seq2seq-search.js';

const EOS = 0;

function rules(maxNewTokens: number, extra: Partial<LogitsRules> = {}): LogitsRules {
  return { eos: [EOS], maxNewTokens, badTokens: [], minNewTokens: 0, noRepeatNgram: 0, ...extra };
}

/** A toy decoder: the logits after a prefix, a pure function of the prefix (seeded by its tokens). */
function toyModel(vocab: number, seed: number): (prefix: readonly number[]) => Float32Array {
  return (prefix) => {
    let h = seed >>> 0;
    for (const t of prefix) h = Math.imul(h ^ (t + 0x9e3779b9), 0x85ebca6b) >>> 0;
    const row = new Float32Array(vocab);
    for (let v = 0; v < vocab; v++) {
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
      row[v] = ((h >>> 8) / 2 ** 24) * 4 - 2;
    }
    return row;
  };
}

/** A table model: logprobs given per prefix (joined by ","), anything else uniform. */
function tableModel(vocab: number, table: Record<string, number[]>): (prefix: readonly number[]) => Float32Array {
  return (prefix) => Float32Array.from(table[prefix.join(',')] ?? Array(vocab).fill(Math.log(1 / vocab)));
}

function logSoftmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const norm = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return Array.from(row, (v) => v - norm);
}

/** Runs a search to its end against the model, feeding each row its own prefix as the engine would. */
function run(search: Search, model: (prefix: readonly number[]) => Float32Array): number[] {
  let prefixes: number[][] = [[]];
  for (let guard = 0; guard < 100; guard++) {
    const step = search.step(prefixes.map(model));
    if (step.done) return search.result();
    prefixes = step.parents.map((p, i) => [...prefixes[p]!, step.tokens[i]!]);
  }
  throw new Error('the search did not end');
}

/**
 * Every sequence the length limit allows, scored as Hugging Face scores a finished hypothesis:
 * ending in EOS (EOS counted in the length) or cut at the limit; the best one's tokens.
 */
function bruteForce(model: (prefix: readonly number[]) => Float32Array, vocab: number, maxNew: number, lengthPenalty: number) {
  let best = { score: -Infinity, tokens: [] as number[] };
  const visit = (prefix: number[], sum: number) => {
    const logprobs = logSoftmax(model(prefix));
    for (let v = 0; v < vocab; v++) {
      const total = sum + logprobs[v]!;
      const length = prefix.length + 1;
      if (v === EOS || length === maxNew) {
        const score = total / length ** lengthPenalty;
        if (score > best.score) best = { score, tokens: v === EOS ? prefix : [...prefix, v] };
      } else visit([...prefix, v], total);
    }
  };
  visit([], 0);
  return best.tokens;
}

describe('beam search', () => {
  it('with beams enough to hold every prefix, finds what a brute-force search over the whole tree finds', () => {
    const vocab = 4;
    const maxNew = 4;
    for (const lengthPenalty of [1, 0, 2, -0.5]) {
      for (let seed = 1; seed <= 25; seed++) {
        const model = toyModel(vocab, seed);
        const search = new BeamSearch(vocab, rules(maxNew), { numBeams: 256, lengthPenalty, earlyStopping: false });
        assert.deepEqual(
          run(search, model),
          bruteForce(model, vocab, maxNew, lengthPenalty),
          `seed ${seed}, length penalty ${lengthPenalty}`,
        );
      }
    }
  });

  it('finds the better sequence greedy decoding misses once it keeps two beams', () => {
    // A (0.6) then nothing better than 1/3 per token; B (0.4) then EOS (0.9): B EOS (0.36) beats any A path (<= 0.2).
    const ln = Math.log;
    const model = tableModel(3, { '': [ln(1e-9), ln(0.6), ln(0.4)], '2': [ln(0.9), ln(0.05), ln(0.05)] });
    const greedy = new SingleSearch(new Sampler(3), rules(3), { ...NEUTRAL_SAMPLING, temperature: 0 }, new SequenceRng(1));
    assert.deepEqual(run(greedy, model), [1]);
    const one = new BeamSearch(3, rules(3), { numBeams: 1, lengthPenalty: 0, earlyStopping: false });
    assert.deepEqual(run(one, model), [1]);
    const two = new BeamSearch(3, rules(3), { numBeams: 2, lengthPenalty: 0, earlyStopping: false });
    assert.deepEqual(run(two, model), [2]);
    assert.deepEqual(bruteForce(model, 3, 3, 0), [2]);
  });

  it('with a narrow beam never beats the brute-force optimum, and one beam is greedy', () => {
    const vocab = 5;
    let beamsWon = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const model = toyModel(vocab, seed);
      // A hypothesis shorter than the limit ended with EOS; one at the limit was cut there.
      const score = (tokens: number[]) => {
        let sum = 0;
        const all = tokens.length < 4 ? [...tokens, EOS] : tokens;
        all.forEach((t, i) => (sum += logSoftmax(model(all.slice(0, i)))[t]!));
        return sum / all.length;
      };
      const optimum = score(bruteForce(model, vocab, 4, 1));
      for (const numBeams of [2, 3]) {
        const found = run(new BeamSearch(vocab, rules(4), { numBeams, lengthPenalty: 1, earlyStopping: false }), model);
        assert.ok(score(found) <= optimum + 1e-9, `seed ${seed}: ${score(found)} > ${optimum}`);
      }
      const greedy = run(
        new SingleSearch(new Sampler(vocab), rules(4), { ...NEUTRAL_SAMPLING, temperature: 0 }, new SequenceRng(1)),
        model,
      );
      const oneBeam = run(new BeamSearch(vocab, rules(4), { numBeams: 1, lengthPenalty: 1, earlyStopping: false }), model);
      assert.deepEqual(oneBeam, greedy, `seed ${seed}`);
      const three = run(new BeamSearch(vocab, rules(4), { numBeams: 3, lengthPenalty: 1, earlyStopping: false }), model);
      if (score(three) > score(greedy) + 1e-9) beamsWon += 1;
    }
    // On these random models the beams matter: three beams score better than greedy on some of them.
    assert.ok(beamsWon >= 3, `three beams beat greedy on ${beamsWon} of 30 models`);
  });

  it('early_stopping: true and false stop once two hypotheses are in; "never" goes on while the length limit lets a beam win', () => {
    const ln = Math.log;
    // With length penalty 2 longer hypotheses score better: [] -0.69, [A] -0.47, four uniform tokens more about -0.2.
    const model = tableModel(3, {
      '': [ln(0.5), ln(0.3), ln(0.2)],
      '1': [ln(0.5), ln(0.49), ln(0.01)],
      '2': [ln(0.5), ln(0.01), ln(0.49)],
    });
    const search = (earlyStopping: boolean | 'never') =>
      run(new BeamSearch(3, rules(5), { numBeams: 2, lengthPenalty: 2, earlyStopping }), model);
    assert.deepEqual(search(true), [1]);
    assert.deepEqual(search(false), [1]);
    assert.ok(search('never').length >= 3, JSON.stringify(search('never')));
  });
});

describe('logits rules', () => {
  const row = () => new Float32Array([0, 1, 2, 3, 4]);
  it('forces BOS first and EOS last, bans bad tokens, EOS before min length and repeated n-grams', () => {
    const forced = row();
    applyRules(forced, [], rules(10, { forcedBos: 3 }));
    assert.deepEqual(Array.from(forced), [-Infinity, -Infinity, -Infinity, 3, -Infinity]);
    const last = row();
    applyRules(last, [1, 2], rules(3, { forcedEos: 0 }));
    assert.deepEqual(Array.from(last), [0, -Infinity, -Infinity, -Infinity, -Infinity]);
    const bad = row();
    applyRules(bad, [1], rules(10, { badTokens: [4], minNewTokens: 2 }));
    assert.deepEqual(Array.from(bad), [-Infinity, 1, 2, 3, -Infinity]);
    const ngram = row();
    // 1 2 3 1 2 -> the bigram (2, 3) and trigram rules: with n = 3, "1 2" was followed by 3 before.
    applyRules(ngram, [1, 2, 3, 1, 2], rules(10, { noRepeatNgram: 3 }));
    assert.deepEqual(Array.from(ngram), [0, 1, 2, -Infinity, 4]);
    const bigram = row();
    applyRules(bigram, [1, 2, 1], rules(10, { noRepeatNgram: 2 }));
    assert.deepEqual(Array.from(bigram), [0, 1, -Infinity, 3, 4]);
  });
});

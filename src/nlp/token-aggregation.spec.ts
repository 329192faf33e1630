import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, type TokenPrediction, tokensToString } from './token-aggregation.js';

const LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
const p = (index: number, token: string, scores: number[], start: number, end: number): TokenPrediction => ({
  index,
  token,
  scores: Float64Array.from(scores),
  start,
  end,
  isSubword: token.startsWith('##'),
});

// "Ana met jo in Lis bon": the last word split into "lis" "##bon", disagreeing on its label.
const PREDICTIONS = [
  p(1, 'ana', [0.1, 0.8, 0.1, 0, 0], 0, 3),
  p(2, 'met', [0.9, 0, 0.1, 0, 0], 4, 7),
  p(3, 'jo', [0.2, 0.1, 0.7, 0, 0], 8, 10),
  p(4, 'in', [0.9, 0, 0, 0.1, 0], 11, 13),
  p(5, 'lis', [0.1, 0, 0, 0.6, 0.3], 14, 17),
  p(6, '##bon', [0.5, 0, 0, 0.1, 0.4], 17, 20),
];

describe('aggregate (Hugging Face token-classification strategies)', () => {
  it('none: every token with its best label, O dropped', () => {
    assert.deepEqual(aggregate(PREDICTIONS, LABELS, 'none', ['O']), [
      { entity: 'B-PER', score: 0.8, index: 1, word: 'ana', start: 0, end: 3 },
      { entity: 'I-PER', score: 0.7, index: 3, word: 'jo', start: 8, end: 10 },
      { entity: 'B-LOC', score: 0.6, index: 5, word: 'lis', start: 14, end: 17 },
    ]);
  });

  it('simple: adjacent tokens of one tag grouped, a B- starts a group, mean score', () => {
    assert.deepEqual(aggregate(PREDICTIONS, LABELS, 'simple', ['O']), [
      { entity_group: 'PER', score: 0.8, word: 'ana', start: 0, end: 3 },
      { entity_group: 'PER', score: 0.7, word: 'jo', start: 8, end: 10 },
      { entity_group: 'LOC', score: 0.6, word: 'lis', start: 14, end: 17 },
    ]);
  });

  it('first, max and average label a whole word', () => {
    const word = (strategy: 'first' | 'max' | 'average') => aggregate(PREDICTIONS, LABELS, strategy, ['O']).at(-1);
    assert.deepEqual(word('first'), { entity_group: 'LOC', score: 0.6, word: 'lisbon', start: 14, end: 20 });
    assert.deepEqual(word('max'), { entity_group: 'LOC', score: 0.6, word: 'lisbon', start: 14, end: 20 });
    // Average of [0.1,0,0,0.6,0.3] and [0.5,0,0,0.1,0.4]: [0.3,0,0,0.35,0.35]; the first maximum wins.
    const average = word('average') as { entity_group: string; score: number };
    assert.equal(average.entity_group, 'LOC');
    assert.ok(Math.abs(average.score - 0.35) < 1e-12);
  });

  it('joins WordPiece tokens back into words', () => {
    assert.equal(tokensToString(['lis', '##bon', 'is', 'big']), 'lisbon is big');
  });
});

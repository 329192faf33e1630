import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byteSpan, rank, truncatePair } from './tei-text.js';
import { truncateIds } from './text-features.js';
import { hfModel, isHfBody, isHfFeatureBody } from './hf-inference.js';

describe('truncatePair (longest_first, specials kept)', () => {
  // [CLS]=2 a1 a2 a3 [SEP]=3 b1..b5 [SEP]=3
  const pair = { ids: [2, 11, 12, 13, 3, 21, 22, 23, 24, 25, 3], typeIds: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1] };
  const a = [11, 12, 13];
  const b = [21, 22, 23, 24, 25];
  const cases: Array<[number, 'left' | 'right', number[], number[]]> = [
    [11, 'right', pair.ids, pair.typeIds],
    [9, 'right', [2, 11, 12, 13, 3, 21, 22, 23, 3], [0, 0, 0, 0, 0, 1, 1, 1, 1]],
    [7, 'right', [2, 11, 12, 3, 21, 22, 3], [0, 0, 0, 0, 1, 1, 1]],
    [7, 'left', [2, 12, 13, 3, 24, 25, 3], [0, 0, 0, 0, 1, 1, 1]],
    [3, 'right', [2, 3, 3], [0, 0, 1]],
  ];
  for (const [max, from, ids, typeIds] of cases) {
    it(`to ${max} from the ${from}`, () => assert.deepEqual(truncatePair(pair, a, b, max, from), { ids, typeIds }));
  }
  it('gives up when the segments are not found in order or the specials alone are too long', () => {
    assert.equal(truncatePair(pair, b, a, 7, 'right'), undefined);
    assert.equal(truncatePair(pair, a, b, 2, 'right'), undefined);
  });
});

describe('truncateIds', () => {
  const ids = [2, 5, 6, 7, 8, 3];
  it('keeps [CLS] and [SEP] and cuts the chosen end', () => {
    assert.deepEqual(truncateIds(ids, 4, 'right', true, true), [2, 5, 6, 3]);
    assert.deepEqual(truncateIds(ids, 4, 'left', true, true), [2, 7, 8, 3]);
    assert.deepEqual(truncateIds([5, 6, 7, 8], 2, 'left', false, false), [7, 8]);
  });
});

describe('byteSpan and rank', () => {
  it('counts UTF-8 bytes of code-point spans', () => {
    assert.deepEqual(byteSpan('a café 東京', [2, 6]), { start: 2, stop: 7, text: 'café' });
    assert.deepEqual(byteSpan('a café 東京', [7, 9]), { start: 8, stop: 14, text: '東京' });
  });
  it('ranks best first, ties in input order, text only when asked', () => {
    assert.deepEqual(rank([0.2, 0.9, 0.2], ['x', 'y', 'z'], false), [
      { index: 1, score: 0.9 },
      { index: 0, score: 0.2 },
      { index: 2, score: 0.2 },
    ]);
    assert.deepEqual(rank([0.1], ['x'], true), [{ index: 0, score: 0.1, text: 'x' }]);
  });
});

describe('Hugging Face Inference bodies', () => {
  it('are bodies without a model or with parameters', () => {
    assert.equal(isHfBody({ inputs: 'x' }), true);
    assert.equal(isHfBody({ model: 'm', inputs: 'x', parameters: {} }), true);
    assert.equal(isHfBody({ model: 'm', inputs: 'x' }), false);
    assert.equal(isHfBody(['x']), false);
    assert.equal(isHfFeatureBody({ inputs: 'x' }), true);
    assert.equal(isHfFeatureBody({ model: 'm', input: 'x' }), false);
  });
  it('take the model from the URL or the body, which must agree', () => {
    assert.equal(hfModel(undefined, { model: 'a' }), 'a');
    assert.equal(hfModel('a', {}), 'a');
    assert.throws(() => hfModel('b', { model: 'a' }), /the URL names model "a" and the body "b"/);
    assert.throws(() => hfModel(undefined, {}), /no model named/);
  });
});

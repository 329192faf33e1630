import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTokenizerWord, normalizeText, preTokenize, tokenizerConfigJson, tokenizerJson } from './glove-tokenizer.js';

describe('glove tokenizer rules', () => {
  const normalized: Array<[string, string]> = [
    ['The MAT', 'the mat'],
    ['Café Naïve', 'cafe naive'],
    ['ﬁne', 'fine'],
    ['Ｆｕｌｌ', 'full'],
    ['wait…', 'wait...'],
    ['“quoted”', '“quoted”'],
  ];
  for (const [text, expected] of normalized) {
    it(`normalizes ${JSON.stringify(text)}`, () => assert.equal(normalizeText(text), expected));
  }

  const split: Array<[string, string[]]> = [
    ['the cat sat, on the mat!', ['the', 'cat', 'sat', ',', 'on', 'the', 'mat', '!']],
    ["don't", ['don', "'", 't']],
    ['well-known', ['well', '-', 'known']],
    ['a+b=c $5', ['a', '+', 'b', '=', 'c', '$', '5']],
    ['  \t\n', []],
    ['£100', ['£100']],
  ];
  for (const [text, expected] of split) {
    it(`splits ${JSON.stringify(text)}`, () => assert.deepEqual(preTokenize(text), expected));
  }

  const words: Array<[string, boolean]> = [
    ['cat', true],
    [',', true],
    ['“', true],
    ['well-known', false],
    ['u.s.', false],
    ['…', false],
    ['Cat', false],
    ['[UNK]', false],
    ['[PAD]', false],
  ];
  for (const [word, expected] of words) {
    it(`${JSON.stringify(word)} ${expected ? 'can' : 'cannot'} come out of the tokenizer`, () =>
      assert.equal(isTokenizerWord(word), expected));
  }
});

describe('tokenizerJson', () => {
  it('numbers [PAD] 0, [UNK] 1 and the words in order from 2', () => {
    const json = tokenizerJson(['the', ',', 'cat']) as { model: { type: string; vocab: Record<string, number>; unk_token: string } };
    assert.deepEqual(json.model, { type: 'WordLevel', vocab: { '[PAD]': 0, '[UNK]': 1, the: 2, ',': 3, cat: 4 }, unk_token: '[UNK]' });
  });

  it('refuses a word twice', () => {
    assert.throws(() => tokenizerJson(['cat', 'cat']), /"cat" appears twice/);
    assert.throws(() => tokenizerJson(['[UNK]']), /"\[UNK\]" appears twice/);
  });

  it('names [UNK] and [PAD] in tokenizer_config.json, where Transformers.js looks for them', () => {
    assert.deepEqual(
      { unk: (tokenizerConfigJson() as { unk_token: string }).unk_token, pad: (tokenizerConfigJson() as { pad_token: string }).pad_token },
      { unk: '[UNK]', pad: '[PAD]' },
    );
  });
});

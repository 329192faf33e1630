import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sliceCodePoints, tokenSpans } from './token-offsets.js';

const SPECIAL = new Set(['[CLS]', '[SEP]', '[PAD]', '[UNK]']);

describe('tokenSpans', () => {
  it('places lower-cased, accent-stripped WordPiece tokens on the original text', () => {
    const text = 'Élodie flew to MÜNCHEN, then 東京!';
    const tokens = ['[CLS]', 'elodie', 'flew', 'to', 'mun', '##chen', ',', 'then', '東', '京', '!', '[SEP]'];
    const spans = tokenSpans(text, tokens, SPECIAL, '[UNK]');
    assert.deepEqual(spans, [null, [0, 6], [7, 11], [12, 14], [15, 18], [18, 22], [22, 23], [24, 28], [29, 30], [30, 31], [31, 32], null]);
    assert.deepEqual(
      spans.filter((s) => s !== null).map((s) => sliceCodePoints(text, s!)),
      ['Élodie', 'flew', 'to', 'MÜN', 'CHEN', ',', 'then', '東', '京', '!'],
    );
  });

  it('gives an unknown token the rest of its word, and counts code points past an emoji', () => {
    const text = '🙂 zyxx, ok';
    assert.deepEqual(tokenSpans(text, ['[CLS]', '[UNK]', '[UNK]', ',', 'ok', '[SEP]'], SPECIAL, '[UNK]'), [
      null,
      [0, 1],
      [2, 6],
      [6, 7],
      [8, 10],
      null,
    ]);
  });

  it('reads SentencePiece and byte-level word starts', () => {
    assert.deepEqual(tokenSpans('New York', ['▁New', '▁York'], new Set(), undefined), [
      [0, 3],
      [4, 8],
    ]);
    assert.deepEqual(tokenSpans('New York', ['New', 'ĠYork'], new Set(), undefined), [
      [0, 3],
      [4, 8],
    ]);
  });
});

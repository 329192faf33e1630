import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sentenceChunks } from './sentences.js';

describe('sentenceChunks', () => {
  it('cuts at sentence ends and keeps each sentence as written, trimmed', () => {
    assert.deepEqual(sentenceChunks('Hello there. How are you?  Fine!\nNext line', 100), [
      'Hello there.',
      'How are you?',
      'Fine!',
      'Next line',
    ]);
  });

  it('does not cut at abbreviations ICU knows or inside numbers', () => {
    assert.deepEqual(sentenceChunks('It costs 3.50 dollars. Done.', 100), ['It costs 3.50 dollars.', 'Done.']);
  });

  it('cuts a sentence longer than the limit at its last space before the limit', () => {
    assert.deepEqual(sentenceChunks('aaa bbb ccc ddd', 8), ['aaa bbb', 'ccc ddd']);
  });

  it('cuts a piece with no space at the limit', () => {
    assert.deepEqual(sentenceChunks('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
  });

  it('drops whitespace-only pieces: blank input has no chunks', () => {
    assert.deepEqual(sentenceChunks('  \n\t ', 10), []);
    assert.deepEqual(sentenceChunks('One.   \n\n  Two.', 10), ['One.', 'Two.']);
  });
});

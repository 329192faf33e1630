import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { byteBpeTokenizer } from '../../test/support/byte-bpe-tokenizer.js';
import { BYTE_TO_CHAR, tokenBytes, tokenText } from './token-bytes.js';

describe('tokenBytes', () => {
  it("uses GPT-2's byte alphabet: space is Ġ, newline Ċ, printable ASCII itself", () => {
    assert.equal(BYTE_TO_CHAR[0x20], '\u0120');
    assert.equal(BYTE_TO_CHAR[0x0a], '\u010a');
    assert.equal(BYTE_TO_CHAR[0x41], 'A');
    assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  });

  it('gives the bytes of byte-level vocabulary entries, partial characters included', () => {
    const { tokenizerJson, tokenizerConfig } = byteBpeTokenizer({
      words: [' world', 'é'],
      specials: ['<|im_end|>'],
      eosToken: '<|im_end|>',
    });
    const tokenizer = new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
    const byId = new Map([...(tokenizer.get_vocab() as Map<string, number>)].map(([token, id]) => [id, token]));
    const bytesOf = (text: string) =>
      tokenizer.encode(text, { add_special_tokens: false }).map((id) => tokenBytes(byId.get(id)!, 'byte-level'));
    assert.deepEqual(bytesOf(' world'), [[0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64]]);
    assert.deepEqual(bytesOf('é'), [[0xc3, 0xa9]]);
    assert.deepEqual(bytesOf('€'), [[0xe2], [0x82], [0xac]]);
    assert.deepEqual(tokenBytes('<|im_end|>', 'byte-level'), Array.from(Buffer.from('<|im_end|>')));
  });

  it('reads SentencePiece byte-fallback pieces and ▁ spaces', () => {
    assert.deepEqual(tokenBytes('<0xE2>', 'sentencepiece'), [0xe2]);
    assert.deepEqual(tokenBytes('\u2581Hello', 'sentencepiece'), Array.from(Buffer.from(' Hello')));
  });

  it('tokenText decodes bytes, an incomplete character as U+FFFD', () => {
    assert.equal(tokenText([0xe2, 0x82, 0xac]), '€');
    assert.equal(tokenText([0xe2, 0x82]), '\uFFFD');
    assert.equal(tokenText([0x20, 0x61]), ' a');
  });
});

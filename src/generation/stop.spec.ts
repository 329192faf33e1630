import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { byteBpeTokenizer, byteSymbols } from '../../test/support/byte-bpe-tokenizer.js';
import { IncrementalDetokenizer, SequenceText, type StopConditions, type TextStep } from './stop.js';

const euro = Array.from(byteSymbols('€'));
const { tokenizerJson, tokenizerConfig } = byteBpeTokenizer({
  words: ['Hello', ' world', ' the', ' end', 'é', ' wörld'],
  merges: [[euro[0]!, euro[1]!]],
  specials: ['<|endoftext|>', '<|im_end|>'],
  eosToken: '<|endoftext|>',
});
const tokenizer = new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
const EOS = tokenizer.eos_token_id!;
const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false });

function run(ids: number[], conditions: Partial<StopConditions>, prompt: number[] = []): { steps: TextStep[]; seq: SequenceText } {
  const seq = new SequenceText(tokenizer, { stop: [], stopTokenIds: [EOS], maxTokens: 1000, ...conditions }, prompt);
  const steps: TextStep[] = [];
  for (const id of ids) {
    steps.push(seq.push(id));
    if (seq.finishReason) break;
  }
  return { steps, seq };
}

describe('the byte-level BPE test tokenizer', () => {
  it('splits an emoji into four byte tokens and "€" into two tokens; "é" is one token', () => {
    assert.equal(encode('😀').length, 4);
    assert.equal(encode('€').length, 2);
    assert.equal(encode('é').length, 1);
    assert.deepEqual(
      encode('Hello world').map((id) => tokenizer.decode([id])),
      ['Hello', ' world'],
    );
    assert.equal(tokenizer.decode(encode('😀').slice(0, 2)), '\uFFFD');
  });
});

describe('IncrementalDetokenizer', () => {
  it('holds back tokens until their UTF-8 character is complete, and its deltas add up to the full decode', () => {
    const text = 'Hello wörld 😀€é the end';
    const ids = encode(text);
    const detokenizer = new IncrementalDetokenizer(tokenizer);
    const deltas = ids.map((id) => detokenizer.push(id));
    assert.equal(deltas.join(''), text);
    assert.ok(deltas.every((d) => !d.includes('\uFFFD')));
    const emoji = encode(' 😀');
    const d2 = new IncrementalDetokenizer(tokenizer);
    assert.deepEqual(
      emoji.map((id) => d2.push(id)),
      [' ', '', '', '', '😀'],
    );
    const d3 = new IncrementalDetokenizer(tokenizer);
    assert.deepEqual(
      encode('€').map((id) => d3.push(id)),
      ['', '€'],
    );
  });

  it('decodes the first generated token in the context of the prompt, and sends none of the prompt', () => {
    const detokenizer = new IncrementalDetokenizer(tokenizer, encode('Hello'));
    assert.deepEqual(
      encode(' world the').map((id) => detokenizer.push(id)),
      [' world', ' the'],
    );
  });

  it('leaves special tokens out of the text', () => {
    const detokenizer = new IncrementalDetokenizer(tokenizer);
    assert.deepEqual(
      [...encode('Hello'), (tokenizer.convert_tokens_to_ids(['<|im_end|>']) as number[])[0]!, ...encode(' world')].map((id) =>
        detokenizer.push(id),
      ),
      ['Hello', '', ' world'],
    );
  });

  it('flush gives an unfinished character as U+FFFD', () => {
    const detokenizer = new IncrementalDetokenizer(tokenizer);
    const ids = encode('é😀');
    assert.equal(detokenizer.push(ids[0]!), 'é');
    assert.equal(detokenizer.push(ids[1]!), '');
    assert.equal(detokenizer.push(ids[2]!), '');
    assert.equal(detokenizer.flush(), '\uFFFD');
  });
});

describe('SequenceText: stop strings, stop tokens and max_tokens', () => {
  it('ends before a stop string that spans tokens and never streams a character of it', () => {
    const { steps, seq } = run(encode('Hello world, world! the end'), { stop: ['world!'] });
    assert.deepEqual(
      steps.map((s) => s.delta),
      ['Hello', ' ', 'world,', ' ', ''],
    );
    assert.deepEqual(steps.at(-1), { delta: '', finishReason: 'stop', stopReason: 'world!' });
    assert.equal(seq.text, 'Hello world, ');
    assert.equal(seq.tokens, 5);
  });

  it('cuts inside a token when the stop string is part of it, dropping the rest of the token', () => {
    const { steps, seq } = run(encode('Hello world'), { stop: ['ell'] });
    assert.deepEqual(steps, [{ delta: 'H', finishReason: 'stop', stopReason: 'ell' }]);
    assert.equal(seq.text, 'H');
  });

  it('the earliest stop string wins when several match', () => {
    const { seq } = run(encode('Hello world the end'), { stop: ['the', 'o w', 'end', 'rld'] });
    assert.equal(seq.text, 'Hell');
  });

  it('a stop string across a multi-byte character split over tokens is caught', () => {
    const { seq, steps } = run(encode('Hello 😀€ the end'), { stop: ['😀€'] });
    assert.equal(seq.text, 'Hello ');
    assert.equal(steps.at(-1)!.stopReason, '😀€');
  });

  it('an EOS token ends with "stop", its text is not returned, and held-back text is sent', () => {
    const { steps, seq } = run([...encode('Hello wor'), EOS], { stop: ['world peace'] });
    assert.deepEqual(
      steps.map((s) => s.delta),
      ['Hello', ' ', 'wor'],
    );
    assert.deepEqual(steps.at(-1), { delta: 'wor', finishReason: 'stop', stopReason: EOS });
    assert.equal(seq.text, 'Hello wor');
  });

  it('a request stop token id ends the sequence the same way', () => {
    const stopId = encode(' the')[0]!;
    const { seq, steps } = run(encode('Hello world the end'), { stopTokenIds: [EOS, stopId] });
    assert.equal(seq.text, 'Hello world');
    assert.deepEqual(steps.at(-1), { delta: '', finishReason: 'stop', stopReason: stopId });
  });

  it('max_tokens ends with "length", sending held-back text and an unfinished character as U+FFFD', () => {
    const ids = encode('Hello world 😀');
    const held = run(ids, { maxTokens: 2, stop: [' world!'] });
    assert.deepEqual(
      held.steps.map((s) => [s.delta, s.finishReason]),
      [
        ['Hello', null],
        [' world', 'length'],
      ],
    );
    const cut = run(ids, { maxTokens: ids.length - 2 });
    assert.equal(cut.seq.text, 'Hello world \uFFFD');
    assert.equal(cut.seq.finishReason, 'length');
  });

  it('a stop string found on the last allowed token still finishes with "stop"', () => {
    const { seq, steps } = run(encode('Hello world'), { maxTokens: 2, stop: ['world'] });
    assert.equal(seq.text, 'Hello ');
    assert.equal(steps.at(-1)!.finishReason, 'stop');
  });

  it('refuses tokens after the end, an empty stop string and max_tokens below 1', () => {
    const { seq } = run([EOS], {});
    assert.throws(() => seq.push(EOS), /already finished/);
    assert.throws(() => new SequenceText(tokenizer, { stop: [''], stopTokenIds: [], maxTokens: 5 }), RangeError);
    assert.throws(() => new SequenceText(tokenizer, { stop: [], stopTokenIds: [], maxTokens: 0 }), RangeError);
  });

  it('property: the streamed text is the decoded text up to the first stop string to appear, cut where it starts', () => {
    const pieces = ['a', 'b', 'é', '😀', '€', ' ', 'Hello', ' world', 'ab', '\n'];
    const text = fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 30 }).map((p) => p.join(''));
    const stops = fc.array(
      fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 3 }).map((p) => p.join('')),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(text, stops, (t, stop) => {
        const ids = encode(t);
        const { expected, stopped } = referenceText(ids, stop);
        const { steps, seq } = run(ids, { stop, maxTokens: ids.length });
        assert.equal(seq.text, expected);
        assert.equal(steps.map((s) => s.delta).join(''), expected);
        assert.equal(seq.finishReason, stopped ? 'stop' : 'length');
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

/**
 * The reference: decode every prefix of the tokens whose text is complete (no U+FFFD at the end);
 * at the first one holding a stop string, the text ends where the earliest such string starts.
 */
function referenceText(ids: number[], stop: string[]): { expected: string; stopped: boolean } {
  for (let k = 1; k <= ids.length; k += 1) {
    const text = tokenizer.decode(ids.slice(0, k));
    if (text.endsWith('\uFFFD')) continue;
    const cuts = stop.map((s) => text.indexOf(s)).filter((at) => at >= 0);
    if (cuts.length) return { expected: text.slice(0, Math.min(...cuts)), stopped: true };
  }
  return { expected: tokenizer.decode(ids), stopped: false };
}

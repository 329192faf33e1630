/**
 * A small byte-level BPE tokenizer (GPT-2 / Qwen2 layout: ByteLevel pre-tokenizer and decoder, a BPE
 * model over the 256 byte symbols plus merges) as `tokenizer.json` and `tokenizer_config.json`
 * objects. Byte-level tokens can hold part of a UTF-8 character, which is what incremental
 * detokenization has to get right.
 */
import { BYTE_TO_CHAR } from '../../src/generation/token-bytes.js';

export { BYTE_TO_CHAR };

/** A piece of text in the byte alphabet ("é" becomes "Ã©"). */
export function byteSymbols(text: string): string {
  return Array.from(new TextEncoder().encode(text), (b) => BYTE_TO_CHAR[b]!).join('');
}

export interface ByteBpeOptions {
  /** Words that become one token each, merged left to right ("hello" -> "h e", "he l", ...). */
  words: readonly string[];
  /** Further merges, each a pair of byte-alphabet symbols. */
  merges?: ReadonlyArray<readonly [string, string]>;
  /** Special tokens, after the merged tokens. */
  specials: readonly string[];
  chatTemplate?: string;
  bosToken?: string;
  eosToken: string;
}

export function byteBpeTokenizer(options: ByteBpeOptions): {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
} {
  const vocab: Record<string, number> = {};
  const merges: string[] = [];
  const add = (token: string) => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  BYTE_TO_CHAR.forEach(add);
  const merge = (a: string, b: string) => {
    if (vocab[a + b] !== undefined) return;
    merges.push(`${a} ${b}`);
    add(a + b);
  };
  for (const word of options.words) {
    const symbols = Array.from(byteSymbols(word));
    let left = symbols[0]!;
    for (const next of symbols.slice(1)) {
      merge(left, next);
      left += next;
    }
  }
  for (const [a, b] of options.merges ?? []) merge(a, b);
  const added = options.specials.map((content) => {
    add(content);
    return { id: vocab[content]!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
    eos_token: options.eosToken,
    model_max_length: 4096,
  };
  if (options.bosToken) tokenizerConfig.bos_token = options.bosToken;
  if (options.chatTemplate) tokenizerConfig.chat_template = options.chatTemplate;
  return { tokenizerJson, tokenizerConfig };
}

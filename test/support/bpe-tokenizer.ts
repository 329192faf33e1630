/**
 * A byte-level BPE tokenizer in the `tokenizer.json` format Hugging Face tokenizers write for Qwen2
 * (NFC normaliser, the Qwen2 split regex then ByteLevel, a BPE model with `[left, right]` merges),
 * plus its `tokenizer_config.json` with the ChatML chat template. The merges are learnt from a small
 * built-in English text; past what that text yields, merges join random pairs of learnt word pieces,
 * so any vocabulary size can be reached and every text still round-trips through the 256 byte tokens.
 */
import { random } from './models.js';

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** Qwen2's pre-tokenizer pattern, as its tokenizer.json spells it. */
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** The same pattern for training, in JavaScript syntax (no inline `(?i:` group). */
const TRAIN_SPLIT =
  /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

const CORPUS = `The quick brown fox jumps over the lazy dog. A model reads the text, one token at a time, and writes
the next token. Hello, world! How are you today? I am fine, thank you. What is the weather like in Paris
and in London this morning? It is sunny and warm, but the wind is cold. We went to the market to buy bread,
cheese, apples and milk. The children played in the garden while their parents talked about work, music,
books and travel. Please write a short story about a robot who learns to paint. Once upon a time there was
a small robot that lived in a quiet town by the sea. Every day it watched the painters on the beach and
wondered what colours they saw. One morning it took a brush and began to paint the waves, the sky and the
boats. The people of the town came to look at the pictures and said they were beautiful. Numbers: 1, 2, 3,
10, 42, 100, 2024. Questions and answers help people learn. The server answers requests quickly and
returns the generated text with the number of tokens used. Translate the sentence into French. Summarise
the following paragraph in one sentence. Explain why the sky is blue. Tell me a joke about computers.
Computers are fast, reliable and sometimes surprising; programmers write code, tests and documentation.`;

/** GPT-2's byte-to-character table: printable bytes map to themselves, the others to U+0100 upwards. */
export function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b += 1) table.push(String.fromCharCode(printable(b) ? b : next++));
  return table;
}

function byteLevel(piece: string, table: readonly string[]): string[] {
  return [...Buffer.from(piece, 'utf8')].map((b) => table[b]!);
}

export interface BpeModel {
  /** Token strings in id order (byte-level form), specials last. */
  vocabulary: string[];
  merges: Array<[string, string]>;
}

/** Learns `size - 256 - specials` merges; the same size and seed give the same model. */
export function trainBpe(size: number, seed = 1): BpeModel {
  const table = byteToUnicode();
  const mergeCount = size - 256 - SPECIAL_TOKENS.length;
  if (mergeCount < 0) throw new RangeError(`vocabulary size ${size} is below the 256 bytes and ${SPECIAL_TOKENS.length} special tokens`);
  const counts = new Map<string, number>();
  for (const piece of CORPUS.normalize('NFC').match(TRAIN_SPLIT) ?? []) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const words = [...counts].map(([piece, count]) => ({ symbols: byteLevel(piece, table), count }));
  const vocabulary = [...table];
  const known = new Set(vocabulary);
  const merges: Array<[string, string]> = [];
  while (merges.length < mergeCount) {
    const best = mostFrequentPair(words);
    if (!best) break;
    const [left, right] = best;
    merges.push([left, right]);
    const merged = left + right;
    if (!known.has(merged)) {
      known.add(merged);
      vocabulary.push(merged);
    }
    for (const word of words) word.symbols = applyMerge(word.symbols, left, right);
  }
  fillWithRandomMerges(vocabulary, known, merges, mergeCount, seed);
  return { vocabulary: [...vocabulary, ...SPECIAL_TOKENS], merges };
}

/** The most frequent adjacent pair; of equals, the first to reach the count wins, so training is deterministic. */
function mostFrequentPair(words: ReadonlyArray<{ symbols: string[]; count: number }>): [string, string] | undefined {
  const pairs = new Map<string, number>();
  let best: string | undefined;
  for (const { symbols, count } of words) {
    for (let i = 0; i + 1 < symbols.length; i += 1) {
      const key = `${symbols[i]}\u0000${symbols[i + 1]}`;
      const total = (pairs.get(key) ?? 0) + count;
      pairs.set(key, total);
      if (best === undefined || total > pairs.get(best)!) best = key;
    }
  }
  return best === undefined ? undefined : (best.split('\u0000') as [string, string]);
}

function applyMerge(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i += 1) {
    if (symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i += 1;
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}

/** Merges of two random letter-only pieces (`Ġ` may lead), so that large vocabularies look like words. */
function fillWithRandomMerges(
  vocabulary: string[],
  known: Set<string>,
  merges: Array<[string, string]>,
  target: number,
  seed: number,
): void {
  const rand = random(seed);
  const wordish = (t: string) => /^Ġ?[a-z]+$/.test(t);
  const lefts = vocabulary.filter(wordish);
  const rights = vocabulary.filter((t) => /^[a-z]+$/.test(t));
  while (merges.length < target) {
    const left = lefts[Math.floor(rand() * lefts.length)]!;
    const right = rights[Math.floor(rand() * rights.length)]!;
    const merged = left + right;
    if (merged.length > 12 || known.has(merged)) continue;
    known.add(merged);
    vocabulary.push(merged);
    merges.push([left, right]);
    lefts.push(merged);
    if (!merged.startsWith('Ġ')) rights.push(merged);
  }
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

export function tokenizerJson(model: BpeModel): object {
  const firstSpecial = model.vocabulary.length - SPECIAL_TOKENS.length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, i) => ({
      id: firstSpecial + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false }, BYTE_LEVEL],
    },
    post_processor: BYTE_LEVEL,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(model.vocabulary.slice(0, firstSpecial).map((token, id) => [token, id])),
      merges: model.merges,
    },
  };
}

/** Qwen2's ChatML template: a default system turn when the conversation has none. */
export const CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function tokenizerConfig(model: BpeModel, maxLength: number): object {
  const firstSpecial = model.vocabulary.length - SPECIAL_TOKENS.length;
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      SPECIAL_TOKENS.map((content, i) => [
        String(firstSpecial + i),
        { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: null,
    chat_template: CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: maxLength,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
}

export function specialTokensMap(): object {
  const token = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  return {
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    eos_token: token('<|im_end|>'),
    pad_token: token('<|endoftext|>'),
  };
}

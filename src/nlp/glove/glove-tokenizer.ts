/**
 * The glove-100d tokenizer: one id per word of the kept vocabulary, as a Hugging Face `tokenizer.json`
 * (WordLevel) that @huggingface/transformers and the Python `tokenizers` library both load.
 * The functions here mirror its normalizer and pre-tokenizer only to choose the vocabulary.
 */

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
export const PAD_ID = 0;
export const UNK_ID = 1;
/** Ids of vocabulary words start here; the model pools only ids at or above it. */
export const FIRST_WORD_ID = 2;
/** The model has no length limit; this bounds the work one input can ask for when a caller truncates. */
export const MODEL_MAX_LENGTH = 8192;

// BertPreTokenizer's punctuation: Unicode P* plus every ASCII symbol (as in Transformers.js and `tokenizers`).
const PUNCTUATION = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const PRE_TOKEN = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, 'gu');

/**
 * NFKD, lowercase, accents removed. GloVe's vocabulary is lowercase ASCII words and punctuation
 * ("cafe", not "café"), so stripping accents maps "Café" onto a known word; NFKD also folds
 * compatibility forms (full-width letters, ligatures, "…" to "...").
 */
export function normalizeText(text: string): string {
  return text.normalize('NFKD').toLowerCase().replace(/\p{M}/gu, '');
}

/** Runs of non-space, non-punctuation characters, and each punctuation character alone. */
export function preTokenize(text: string): string[] {
  return text.match(PRE_TOKEN) ?? [];
}

/**
 * Whether the tokenizer can ever produce `word`: GloVe words such as "well-known", "u.s." or "…"
 * are split or rewritten before lookup, so keeping them would only spend rows of the table.
 */
export function isTokenizerWord(word: string): boolean {
  if (word === PAD_TOKEN || word === UNK_TOKEN) return false;
  const pieces = preTokenize(normalizeText(word));
  return pieces.length === 1 && pieces[0] === word;
}

const specialToken = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** `tokenizer.json`: `[PAD]` 0, `[UNK]` 1, then `words` in order; nothing added around sequences. */
export function tokenizerJson(words: readonly string[]): object {
  const vocab: Record<string, number> = { [PAD_TOKEN]: PAD_ID, [UNK_TOKEN]: UNK_ID };
  words.forEach((word, i) => {
    if (Object.hasOwn(vocab, word)) throw new Error(`"${word}" appears twice in the vocabulary`);
    vocab[word] = FIRST_WORD_ID + i;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [specialToken(PAD_ID, PAD_TOKEN), specialToken(UNK_ID, UNK_TOKEN)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'Lowercase' }, { type: 'StripAccents' }] },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    // Joins words with spaces and tidies " ," and " 's"; no vocabulary word contains "#", so "##" never matches.
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordLevel', vocab, unk_token: UNK_TOKEN },
  };
}

/** `tokenizer_config.json`; Transformers.js takes `[UNK]`'s id for unknown words from `unk_token` here. */
export function tokenizerConfigJson(): object {
  const decoder = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true });
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    added_tokens_decoder: { [PAD_ID]: decoder(PAD_TOKEN), [UNK_ID]: decoder(UNK_TOKEN) },
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    do_lower_case: true,
    model_max_length: MODEL_MAX_LENGTH,
    model_input_names: ['input_ids', 'attention_mask'],
    padding_side: 'right',
    truncation_side: 'right',
    clean_up_tokenization_spaces: true,
  };
}

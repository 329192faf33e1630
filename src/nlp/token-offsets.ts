/**
 * Character offsets of tokens in the original text, which Transformers.js does not return.
 * Tokens are matched left to right against the text folded the way tokenizer normalizers fold it
 * (accents stripped, lower case), so lower-cased, accent-stripped WordPiece tokens ("##" pieces),
 * SentencePiece ("▁") and byte-level ("Ġ") pieces all find their span. An unknown token spans the
 * rest of its word. Offsets count Unicode code points, as Hugging Face's pipelines do.
 */
export type Span = [start: number, end: number];

const CONTINUATION = /^##/;
const WORD_START = /^[▁Ġ]/u;
const SPACE = /\s/u;
const PUNCTUATION = /[\p{P}\p{S}]/u;

interface Folded {
  /** The folded text. */
  text: string;
  /** For each UTF-16 unit of `text`, the code-point index in the original it came from. */
  source: number[];
  /** Code points in the original. */
  length: number;
}

export function fold(value: string): string {
  return value
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '')
    .toLowerCase();
}

function foldWithSource(text: string): Folded {
  let folded = '';
  const source: number[] = [];
  let index = 0;
  for (const char of text) {
    const f = fold(char);
    folded += f;
    for (let i = 0; i < f.length; i += 1) source.push(index);
    index += 1;
  }
  return { text: folded, source, length: index };
}

/** One span per token, or null for special tokens and any token that cannot be placed. */
export function tokenSpans(
  text: string,
  tokens: readonly string[],
  special: ReadonlySet<string>,
  unknown: string | undefined,
): Array<Span | null> {
  const f = foldWithSource(text);
  let cursor = 0;
  const skipSpace = () => {
    while (cursor < f.text.length && SPACE.test(f.text[cursor]!)) cursor += 1;
  };
  const spanOf = (from: number, to: number): Span => [f.source[from]!, f.source[to - 1]! + 1];
  return tokens.map((token) => {
    if (special.has(token) && token !== unknown) return null;
    if (token === unknown) {
      skipSpace();
      const start = cursor;
      if (cursor < f.text.length && PUNCTUATION.test(f.text[cursor]!)) cursor += 1;
      else while (cursor < f.text.length && !SPACE.test(f.text[cursor]!) && !PUNCTUATION.test(f.text[cursor]!)) cursor += 1;
      return cursor > start ? spanOf(start, cursor) : null;
    }
    const piece = fold(token.replace(CONTINUATION, '').replace(WORD_START, ''));
    if (piece === '') return null;
    if (!CONTINUATION.test(token)) skipSpace();
    const at = f.text.startsWith(piece, cursor) ? cursor : f.text.indexOf(piece, cursor);
    if (at < 0) return null;
    cursor = at + piece.length;
    return spanOf(at, cursor);
  });
}

/** The text between code-point offsets (what a Python client gets from text[start:end]). */
export function sliceCodePoints(text: string, [start, end]: Span): string {
  return Array.from(text).slice(start, end).join('');
}

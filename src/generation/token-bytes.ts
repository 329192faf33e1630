/**
 * The bytes of a vocabulary entry, for OpenAI's logprobs `bytes` field: a byte-level BPE token
 * (GPT-2, Llama 3, Qwen2) may hold part of a UTF-8 character, so its text alone cannot say which
 * bytes it stands for.
 */

/** GPT-2's bytes_to_unicode: the printable character each byte is written as in a byte-level vocabulary ("Ġ" is a space). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b += 1) chars[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  return chars;
})();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;

/** How a vocabulary writes its tokens: from tokenizer.json's decoder ("ByteLevel", or "Metaspace" / a byte-fallback sequence). */
export type VocabularyScheme = 'byte-level' | 'sentencepiece';

/**
 * The bytes a vocabulary entry stands for. Byte-level: each character maps back to one byte (a
 * special token such as "<|im_end|>" is its own UTF-8). SentencePiece: "<0xE2>" byte-fallback
 * pieces are that byte, "▁" is a space, anything else its UTF-8.
 */
export function tokenBytes(token: string, scheme: VocabularyScheme): number[] {
  if (scheme === 'byte-level') {
    const bytes: number[] = [];
    for (const char of token) {
      const byte = CHAR_TO_BYTE.get(char);
      if (byte === undefined) return Array.from(Buffer.from(token, 'utf8'));
      bytes.push(byte);
    }
    return bytes;
  }
  const fallback = BYTE_FALLBACK.exec(token);
  if (fallback) return [parseInt(fallback[1]!, 16)];
  return Array.from(Buffer.from(token.replaceAll('\u2581', ' '), 'utf8'));
}

/** A token's text as logprobs show it: its bytes decoded, an incomplete character as U+FFFD. */
export function tokenText(bytes: readonly number[]): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
}

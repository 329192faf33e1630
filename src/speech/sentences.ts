const segmenter = new Intl.Segmenter(undefined, { granularity: 'sentence' });

/**
 * Text cut into the pieces a synthesizer speaks one at a time: its sentences (Unicode sentence
 * boundaries, as ICU finds them), each at most `maxChars` long; a longer sentence is cut at its
 * last whitespace before the limit, or at the limit when it has none. Pieces with nothing but
 * whitespace are dropped; the others keep their text as written, trimmed.
 */
export function sentenceChunks(text: string, maxChars: number): string[] {
  const chunks: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    let rest = segment.trim();
    while (rest.length > maxChars) {
      const space = rest.lastIndexOf(' ', maxChars);
      const cut = space > 0 ? space : maxChars;
      chunks.push(rest.slice(0, cut).trim());
      rest = rest.slice(cut).trim();
    }
    if (rest.length > 0) chunks.push(rest);
  }
  return chunks.filter((c) => c.length > 0);
}

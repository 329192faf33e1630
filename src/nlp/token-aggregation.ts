/**
 * Hugging Face's token-classification aggregation (transformers' TokenClassificationPipeline):
 * none, simple, first, max, average, with the same grouping rules and output fields.
 */
export type AggregationStrategy = 'none' | 'simple' | 'first' | 'max' | 'average';

export interface TokenPrediction {
  /** Position in the encoded sequence (special tokens included), as HF's `index`. */
  index: number;
  token: string;
  /** Probabilities over the labels. */
  scores: Float64Array;
  start: number;
  end: number;
  /** A continuation of the previous token's word (WordPiece "##"). */
  isSubword: boolean;
}

export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}

export interface GroupedEntity {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

interface Labelled {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

const argmax = (xs: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < xs.length; i += 1) if (xs[i]! > xs[best]!) best = i;
  return best;
};

/** WordPiece's convert_tokens_to_string: pieces joined, "##" glued on. */
export function tokensToString(tokens: readonly string[]): string {
  return tokens.join(' ').replace(/ ##/g, '').replace(/^##/, '').replace(/[▁Ġ]/gu, ' ').trim();
}

export function aggregate(
  predictions: readonly TokenPrediction[],
  labels: readonly string[],
  strategy: AggregationStrategy,
  ignoreLabels: readonly string[],
): Array<TokenEntity | GroupedEntity> {
  const tokens: Array<Labelled & { index: number }> = predictions.map((p) => {
    const best = argmax(p.scores);
    return { entity: labels[best] ?? `LABEL_${best}`, score: p.scores[best]!, index: p.index, word: p.token, start: p.start, end: p.end };
  });
  let out: Array<TokenEntity | GroupedEntity>;
  if (strategy === 'none') out = tokens;
  else if (strategy === 'simple') out = groupEntities(tokens);
  else out = groupEntities(aggregateWords(predictions, labels, strategy));
  const ignored = new Set(ignoreLabels);
  return out.filter((e) => !ignored.has('entity' in e ? e.entity : e.entity_group));
}

/** Subword tokens joined into words, each word labelled by its first token, its most confident one, or the average. */
function aggregateWords(
  predictions: readonly TokenPrediction[],
  labels: readonly string[],
  strategy: 'first' | 'max' | 'average',
): Labelled[] {
  const words: TokenPrediction[][] = [];
  for (const p of predictions) {
    if (p.isSubword && words.length > 0) words.at(-1)!.push(p);
    else words.push([p]);
  }
  return words.map((word) => {
    let scores: ArrayLike<number>;
    if (strategy === 'first') scores = word[0]!.scores;
    else if (strategy === 'max') scores = word.reduce((a, b) => (Math.max(...b.scores) > Math.max(...a.scores) ? b : a)).scores;
    else scores = word[0]!.scores.map((_, i) => word.reduce((sum, p) => sum + p.scores[i]!, 0) / word.length);
    const best = argmax(scores);
    return {
      entity: labels[best] ?? `LABEL_${best}`,
      score: scores[best]!,
      word: tokensToString(word.map((p) => p.token)),
      start: word[0]!.start,
      end: word.at(-1)!.end,
    };
  });
}

function tagOf(entity: string): { bi: 'B' | 'I'; tag: string } {
  if (entity.startsWith('B-')) return { bi: 'B', tag: entity.slice(2) };
  if (entity.startsWith('I-')) return { bi: 'I', tag: entity.slice(2) };
  return { bi: 'I', tag: entity };
}

/** Adjacent entities of one tag form a group; a B- starts a new one. */
function groupEntities(entities: readonly Labelled[]): GroupedEntity[] {
  const groups: GroupedEntity[] = [];
  let current: Labelled[] = [];
  const close = () => {
    if (current.length === 0) return;
    groups.push({
      entity_group: tagOf(current[0]!.entity).tag,
      score: current.reduce((sum, e) => sum + e.score, 0) / current.length,
      word: tokensToString(current.map((e) => e.word)),
      start: current[0]!.start,
      end: current.at(-1)!.end,
    });
    current = [];
  };
  for (const entity of entities) {
    const { bi, tag } = tagOf(entity.entity);
    if (current.length > 0 && tag === tagOf(current.at(-1)!.entity).tag && bi !== 'B') current.push(entity);
    else {
      close();
      current = [entity];
    }
  }
  close();
  return groups;
}

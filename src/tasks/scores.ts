export type ScoreFunction = 'softmax' | 'sigmoid' | 'none';

/** Turns logits into scores as the model's manifest says (softmax for single-label classifiers). */
export function toScores(logits: ArrayLike<number>, fn: ScoreFunction): Float64Array {
  const out = Float64Array.from(logits);
  if (fn === 'sigmoid') {
    for (let i = 0; i < out.length; i += 1) out[i] = 1 / (1 + Math.exp(-out[i]!));
  } else if (fn === 'softmax') {
    let max = -Infinity;
    for (const v of out) max = Math.max(max, v);
    let sum = 0;
    for (let i = 0; i < out.length; i += 1) sum += out[i] = Math.exp(out[i]! - max);
    for (let i = 0; i < out.length; i += 1) out[i]! /= sum;
  }
  return out;
}

export interface LabelScore {
  label: string;
  score: number;
}

/** The k best as Hugging Face's classification pipelines answer: `[{label, score}]`, best first, ties by index. */
export function topK(scores: ArrayLike<number>, labels: readonly string[] | undefined, k: number): LabelScore[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, Math.min(k, scores.length)).map((i) => ({ label: labels?.[i] ?? `LABEL_${i}`, score: scores[i]! }));
}

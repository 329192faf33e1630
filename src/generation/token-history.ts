/**
 * The tokens a sequence's penalties look at: the distinct ids of prompt and output (the repetition
 * penalty's set) and how often each id has been generated (presence and frequency penalties). It
 * grows by one token per step; applying the penalties touches only these ids, not the vocabulary.
 */
export class TokenHistory {
  private readonly seen = new Set<number>();
  private readonly outputCounts = new Map<number, number>();
  private generated = 0;

  constructor(promptIds: ArrayLike<number> = []) {
    for (let i = 0; i < promptIds.length; i += 1) this.seen.add(promptIds[i]!);
  }

  /** Records a generated token. */
  push(id: number): void {
    this.seen.add(id);
    this.outputCounts.set(id, (this.outputCounts.get(id) ?? 0) + 1);
    this.generated += 1;
  }

  /** Tokens generated so far. */
  get length(): number {
    return this.generated;
  }

  /**
   * Applies, in vLLM's order, the repetition penalty (Hugging Face's: a positive logit is divided by
   * it, a negative one multiplied, once per distinct prompt or output token), then OpenAI's frequency
   * penalty (times the token's count in the output) and presence penalty (once per output token).
   */
  applyPenalties(logits: Float32Array, repetition: number, frequency: number, presence: number): void {
    if (repetition !== 1) {
      for (const id of this.seen) {
        const v = logits[id]!;
        logits[id] = v < 0 ? v * repetition : v / repetition;
      }
    }
    if (frequency === 0 && presence === 0) return;
    for (const [id, count] of this.outputCounts) {
      if (frequency !== 0) logits[id] = logits[id]! - frequency * count;
      if (presence !== 0) logits[id] = logits[id]! - presence;
    }
  }
}

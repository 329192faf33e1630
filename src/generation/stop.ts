/**
 * What turns a sequence's token ids into text: a Transformers.js tokenizer's `decode` fits it. Text
 * is decoded with `clean_up_tokenization_spaces: false`, so that decoding a longer window of tokens
 * extends, never rewrites, the text of a shorter one.
 */
export interface Detokenizer {
  decode(ids: number[], options: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
}

/** Prompt tokens decoded in front of the first generated token, as vLLM does (a SentencePiece token alone loses its leading space). */
const PROMPT_CONTEXT = 5;
const REPLACEMENT = '\uFFFD';

/**
 * Incremental detokenization as vLLM's and TGI's: each step decodes a short window of tokens twice,
 * without and with the new ones, and emits the difference only when the longer text does not end in
 * U+FFFD, i.e. when no UTF-8 character (a byte-level BPE token can hold part of one) is still open.
 * Otherwise the tokens wait and the next step decodes them together with the following one.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  private prefixOffset = 0;
  private readOffset: number;
  private prefixText = '';

  constructor(
    private readonly tokenizer: Detokenizer,
    promptIds: readonly number[] = [],
    private readonly skipSpecialTokens = true,
  ) {
    this.ids = promptIds.slice(Math.max(0, promptIds.length - PROMPT_CONTEXT));
    this.readOffset = this.ids.length;
    this.prefixText = this.decode(0, this.readOffset);
  }

  /** Adds a token; returns the text it completes ('' while a character is still open). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.prefixOffset, this.ids.length);
    if (text.length <= this.prefixText.length || text.endsWith(REPLACEMENT)) return '';
    return this.advance(text);
  }

  /** The text of tokens still held back (an unfinished character decodes as U+FFFD), at the end of a sequence. */
  flush(): string {
    const text = this.decode(this.prefixOffset, this.ids.length);
    return text.length > this.prefixText.length ? this.advance(text) : '';
  }

  private advance(text: string): string {
    const delta = text.slice(this.prefixText.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.prefixText = this.decode(this.prefixOffset, this.readOffset);
    return delta;
  }

  private decode(from: number, to: number): string {
    if (to <= from) return '';
    return this.tokenizer.decode(this.ids.slice(from, to), {
      skip_special_tokens: this.skipSpecialTokens,
      clean_up_tokenization_spaces: false,
    });
  }
}

export type FinishReason = 'stop' | 'length';

export interface StopConditions {
  /** Stop strings (OpenAI allows up to 4): the text ends before the first one found; it is not returned. */
  stop: readonly string[];
  /** Token ids that end the sequence (the model's EOS ids and the request's stop_token_ids); their text is not returned. */
  stopTokenIds: readonly number[];
  /** After this many generated tokens the sequence ends with finish_reason 'length'. */
  maxTokens: number;
  /** Leave special tokens out of the text (default true, as vLLM and OpenAI). */
  skipSpecialTokens?: boolean;
}

export interface TextStep {
  /** Text to send now; '' while text is held back. */
  delta: string;
  /** Set on the step that ends the sequence. */
  finishReason: FinishReason | null;
  /** What ended it with 'stop': the stop string, or the stop token id. */
  stopReason?: string | number;
}

/**
 * The text of one generated sequence, token by token, with OpenAI's stop semantics. Streamed deltas
 * never contain characters that later turn out to start a stop string: the longest end of the
 * pending text that is a beginning of some stop string is held back until the next token decides.
 * A stop string spanning several tokens is caught, as is one inside a single token (the token's
 * text after it is dropped).
 */
export class SequenceText {
  private readonly detokenizer: IncrementalDetokenizer;
  private readonly stopIds: ReadonlySet<number>;
  private readonly longestStop: number;
  private held = '';
  private readonly parts: string[] = [];
  private generated = 0;
  private finish: FinishReason | null = null;

  constructor(
    tokenizer: Detokenizer,
    private readonly conditions: StopConditions,
    promptIds: readonly number[] = [],
  ) {
    if (!(conditions.maxTokens >= 1)) throw new RangeError(`maxTokens must be at least 1, not ${conditions.maxTokens}`);
    if (conditions.stop.some((s) => s.length === 0)) throw new RangeError('a stop string must not be empty');
    this.detokenizer = new IncrementalDetokenizer(tokenizer, promptIds, conditions.skipSpecialTokens ?? true);
    this.stopIds = new Set(conditions.stopTokenIds);
    this.longestStop = Math.max(0, ...conditions.stop.map((s) => s.length));
  }

  /** Adds the next generated token. Throws once the sequence has finished. */
  push(id: number): TextStep {
    if (this.finish) throw new Error('the sequence has already finished');
    this.generated += 1;
    if (this.stopIds.has(id)) return this.scan(this.detokenizer.flush(), 'stop', id);
    const delta = this.detokenizer.push(id);
    if (this.generated >= this.conditions.maxTokens) return this.scan(delta + this.detokenizer.flush(), 'length');
    return this.scan(delta, null);
  }

  /** Every delta sent so far, joined: the choice's whole text. */
  get text(): string {
    return this.parts.join('');
  }

  get finishReason(): FinishReason | null {
    return this.finish;
  }

  /** Tokens pushed so far (the stop token included, as vLLM counts completion tokens). */
  get tokens(): number {
    return this.generated;
  }

  /**
   * Looks for a stop string in the held text plus the new text; without one, sends all but the held
   * back end (everything when the sequence ends here for another reason).
   */
  private scan(added: string, ending: FinishReason | null, stopToken?: number): TextStep {
    const pending = this.held + added;
    const found = this.firstStop(pending);
    if (found) return this.end(pending.slice(0, found.at), 'stop', found.stop);
    if (ending) return this.end(pending, ending, stopToken);
    const keep = this.heldBackLength(pending);
    this.held = pending.slice(pending.length - keep);
    return this.send(pending.slice(0, pending.length - keep), null);
  }

  private end(delta: string, reason: FinishReason, stopReason?: string | number): TextStep {
    this.held = '';
    this.finish = reason;
    const step = this.send(delta, reason);
    return stopReason === undefined ? step : { ...step, stopReason };
  }

  private send(delta: string, finishReason: FinishReason | null): TextStep {
    if (delta) this.parts.push(delta);
    return { delta, finishReason };
  }

  /** The earliest stop string in `text` (the earliest start wins; OpenAI cuts before it). */
  private firstStop(text: string): { at: number; stop: string } | undefined {
    let best: { at: number; stop: string } | undefined;
    for (const stop of this.conditions.stop) {
      const at = text.indexOf(stop);
      if (at >= 0 && (!best || at < best.at)) best = { at, stop };
    }
    return best;
  }

  /** Length of the longest end of `text` that begins some stop string (shorter than that stop string). */
  private heldBackLength(text: string): number {
    for (let length = Math.min(this.longestStop - 1, text.length); length > 0; length -= 1) {
      const end = text.slice(text.length - length);
      if (this.conditions.stop.some((stop) => stop.length > length && stop.startsWith(end))) return length;
    }
    return 0;
  }
}

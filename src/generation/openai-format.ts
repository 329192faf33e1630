import { randomUUID } from 'node:crypto';
import type {
  ChatCompletionChunk,
  ChatCompletionResponse,
  ChatTokenLogprob,
  TextCompletionChunk,
  TextCompletionResponse,
  Usage,
} from './openai-responses.js';
import type { FinishReason } from './stop.js';
import type { GenerateEvent, GenerateResult, TokenReport } from './text-generator.js';

type Delta = Extract<GenerateEvent, { type: 'delta' }>;

/** OpenAI's per-token logprob entry (chat): the token's text, logprob, UTF-8 bytes and the top alternatives. */
export function chatLogprob(report: TokenReport): ChatTokenLogprob {
  return {
    token: report.text,
    logprob: report.logprob,
    bytes: report.bytes,
    top_logprobs: report.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: t.bytes })),
  };
}

export function usageOf(results: readonly GenerateResult[]): Usage {
  const prompt = results.reduce((n, r) => n + r.promptTokens, 0);
  const completion = results.reduce((n, r) => n + r.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** One choice's text, logprobs and finish reason, gathered from its deltas. */
class ChoiceText {
  readonly parts: string[] = [];
  readonly tokens: TokenReport[] = [];
  finish: FinishReason | null = null;

  add(delta: Delta): void {
    if (delta.text) this.parts.push(delta.text);
    if (delta.logprobs) this.tokens.push(...delta.logprobs);
    if (delta.finishReason) this.finish = delta.finishReason;
  }

  get text(): string {
    return this.parts.join('');
  }
}

/** What both routes' answers share: an id, a creation time, the model, choices gathered by index. */
abstract class Answer {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);
  protected readonly choices = new Map<number, ChoiceText>();

  constructor(
    prefix: string,
    readonly model: string,
  ) {
    this.id = `${prefix}-${randomUUID().replaceAll('-', '')}`;
  }

  /** Adds a delta of request `prompt` (choices of prompt p are numbered p·n .. p·n + n − 1). */
  add(delta: Delta, index: number): void {
    let choice = this.choices.get(index);
    if (!choice) this.choices.set(index, (choice = new ChoiceText()));
    choice.add(delta);
  }

  protected ordered(): Array<[number, ChoiceText]> {
    return [...this.choices.entries()].sort(([a], [b]) => a - b);
  }
}

/** A /v1/chat/completions answer (not streamed). */
export class ChatAnswer extends Answer {
  constructor(
    model: string,
    private readonly logprobs: boolean,
  ) {
    super('chatcmpl', model);
  }

  body(results: readonly GenerateResult[]): ChatCompletionResponse {
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: this.ordered().map(([index, c]) => ({
        index,
        message: { role: 'assistant', content: c.text, refusal: null },
        logprobs: this.logprobs ? { content: c.tokens.map(chatLogprob), refusal: null } : null,
        finish_reason: c.finish ?? 'stop',
      })),
      usage: usageOf(results),
    };
  }
}

/** A /v1/completions answer (not streamed). */
export class CompletionAnswer extends Answer {
  constructor(
    model: string,
    private readonly logprobs: boolean,
  ) {
    super('cmpl', model);
  }

  body(results: readonly GenerateResult[]): TextCompletionResponse {
    return {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: this.ordered().map(([index, c]) => ({
        index,
        text: c.text,
        logprobs: this.logprobs ? completionLogprobs(c.tokens, 0) : null,
        finish_reason: c.finish ?? 'stop',
      })),
      usage: usageOf(results),
    };
  }
}

/** The legacy completions logprobs of some tokens, whose text starts `offset` characters into the choice. */
export function completionLogprobs(tokens: readonly TokenReport[], offset: number) {
  const text_offset: number[] = [];
  let at = offset;
  for (const t of tokens) {
    text_offset.push(at);
    at += t.text.length;
  }
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((alt) => [alt.text, alt.logprob]))),
    text_offset,
  };
}

/**
 * A streamed /v1/chat/completions answer: a chunk per delta in OpenAI's order (the role first,
 * then content, then an empty delta with the finish reason), `usage: null` on each when usage was
 * asked for, and then one chunk with no choices and the totals.
 */
export class ChatStream extends Answer {
  private readonly started = new Set<number>();

  constructor(
    model: string,
    private readonly logprobs: boolean,
    private readonly includeUsage: boolean,
  ) {
    super('chatcmpl', model);
  }

  /** The first chunk of every choice: its role. */
  opening(indices: readonly number[]): ChatCompletionChunk[] {
    return indices.map((index) => {
      this.started.add(index);
      return this.chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    });
  }

  chunks(delta: Delta, index: number): ChatCompletionChunk[] {
    const out: ChatCompletionChunk[] = [];
    if (delta.text || (this.logprobs && delta.logprobs?.length)) {
      out.push(
        this.chunk([
          {
            index,
            delta: { content: delta.text },
            logprobs: this.logprobs ? { content: (delta.logprobs ?? []).map(chatLogprob), refusal: null } : null,
            finish_reason: null,
          },
        ]),
      );
    }
    if (delta.finishReason) out.push(this.chunk([{ index, delta: {}, logprobs: null, finish_reason: delta.finishReason }]));
    return out;
  }

  /** The usage chunk, when asked for. */
  closing(results: readonly GenerateResult[]): ChatCompletionChunk[] {
    if (!this.includeUsage) return [];
    return [{ ...this.header(), choices: [], usage: usageOf(results) }];
  }

  private header() {
    return { id: this.id, object: 'chat.completion.chunk' as const, created: this.created, model: this.model };
  }

  private chunk(choices: ChatCompletionChunk['choices']): ChatCompletionChunk {
    return { ...this.header(), choices, ...(this.includeUsage ? { usage: null } : {}) };
  }
}

/** A streamed /v1/completions answer: `text_completion` objects with a part of one choice's text each. */
export class CompletionStream extends Answer {
  private readonly offsets = new Map<number, number>();

  constructor(
    model: string,
    private readonly logprobs: boolean,
    private readonly includeUsage: boolean,
  ) {
    super('cmpl', model);
  }

  chunks(delta: Delta, index: number): TextCompletionChunk[] {
    if (!delta.text && !delta.finishReason && !(this.logprobs && delta.logprobs?.length)) return [];
    const offset = this.offsets.get(index) ?? 0;
    const tokens = delta.logprobs ?? [];
    this.offsets.set(
      index,
      tokens.reduce((at, t) => at + t.text.length, offset),
    );
    return [
      {
        id: this.id,
        object: 'text_completion',
        created: this.created,
        model: this.model,
        choices: [
          {
            index,
            text: delta.text,
            logprobs: this.logprobs ? completionLogprobs(tokens, offset) : null,
            finish_reason: delta.finishReason,
          },
        ],
        ...(this.includeUsage ? { usage: null } : {}),
      },
    ];
  }

  closing(results: readonly GenerateResult[]): TextCompletionChunk[] {
    if (!this.includeUsage) return [];
    return [{ id: this.id, object: 'text_completion', created: this.created, model: this.model, choices: [], usage: usageOf(results) }];
  }
}

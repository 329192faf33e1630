import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { NamedTensors } from '../contracts/tensor.js';
import { type ChatMessage, type ChatTemplateTokenizer, renderChatPrompt } from './chat-template.js';
import { DecodeEngine, type EngineStats, type SequenceSink } from './decode-engine.js';
import { type CacheLayout, bytesPerToken } from './kv-batch.js';
import { choiceSeed, randomSeed, SequenceRng } from './prng.js';
import { type DefaultableSampling, plainGreedy, Sampler, type SamplingParams, type SampledToken } from './sampler.js';
import { type Detokenizer, type FinishReason, SequenceText } from './stop.js';
import { TokenHistory } from './token-history.js';
import { tokenBytes, tokenText, type VocabularyScheme } from './token-bytes.js';

/** What a generation request asks of the worker (structured-clonable: no Maps, no functions). */
export interface GenerateRequest {
  prompt: { kind: 'text'; text: string } | { kind: 'chat'; messages: ChatMessage[] } | { kind: 'tokens'; ids: number[] };
  /** Choices to generate from the one prompt. */
  n: number;
  /** Tokens each choice may add; absent: up to the context (or the cache budget, whichever is smaller). */
  maxTokens?: number;
  sampling: Omit<SamplingParams, 'logitBias'> & { logitBias?: Array<[number, number]> };
  /**
   * The sampling fields the client did not set: the model's generation_config.json defaults apply to
   * them (as vLLM does); absent or empty, `sampling` is taken as it is.
   */
  unset?: DefaultableSampling[];
  /** Absent: a random seed, so unseeded requests differ. */
  seed?: number;
  stop: string[];
  stopTokenIds: number[];
  /** Keep generating past the model's end-of-sequence tokens (benchmarks, vLLM's ignore_eos). */
  ignoreEos: boolean;
  /** Keep only the prompt's last k tokens when it is longer than the context allows (vLLM's truncate_prompt_tokens). */
  truncatePromptTokens?: number;
}

export interface TokenReport {
  id: number;
  /** The token's text alone (special tokens included; part of a character as U+FFFD), as OpenAI's logprobs name it. */
  text: string;
  /** The UTF-8 bytes the token stands for. */
  bytes: number[];
  logprob: number;
  top: Array<{ id: number; text: string; bytes: number[]; logprob: number }>;
}

/** The vocabulary as written in tokenizer.json (id -> piece), for the bytes each token stands for. */
export interface Vocabulary {
  pieces: readonly string[];
  scheme: VocabularyScheme;
}

/** What the worker sends while a request runs. */
export type GenerateEvent =
  /** Once, when the prompt is tokenized and queued: its token count. */
  | { type: 'accepted'; promptTokens: number; maxTokens: number }
  /** After a step: the text a choice may show now, the tokens sampled (with logprobs when asked), and its finish reason on its last step. */
  | {
      type: 'delta';
      choice: number;
      text: string;
      tokens: number;
      logprobs?: TokenReport[];
      finishReason: FinishReason | null;
      stopReason?: string | number;
    };

export interface GenerateResult {
  promptTokens: number;
  completionTokens: number;
  choices: Array<{ finishReason: FinishReason; stopReason?: string | number }>;
}

/** A Transformers.js tokenizer, as far as generation uses it. */
export interface GenerationTokenizer extends Detokenizer, ChatTemplateTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
}

export interface ModelConfig {
  layout: CacheLayout;
  positionIds: boolean;
  /** Whether the served graph outputs each step's own key and value (DecoderModel.stepColumns). */
  stepColumns?: boolean;
  /** Whether the served graph outputs the greedy token (DecoderModel.greedyToken). */
  greedyToken?: boolean;
  vocabSize: number;
  /** max_position_embeddings: prompt plus output never exceed it. */
  contextLength: number;
  /** generation_config.json's (else config.json's) eos_token_id(s). */
  eosTokenIds: number[];
  /** generation_config.json's temperature, top_p, top_k, min_p and repetition_penalty, where it sets them (validly). */
  samplingDefaults: Partial<Pick<SamplingParams, DefaultableSampling>>;
}

export interface GeneratorLimits {
  maxSequences: number;
  kvBudgetBytes: number;
  prefillChunkTokens: number;
  maxWaiting: number;
  /** Seconds a refused client is told to wait (Retry-After). */
  retryAfterSeconds: number;
}

/** The model's facts from config.json and generation_config.json (Transformers' defaults where a field is absent). */
export function modelConfig(
  config: Record<string, unknown>,
  generation: Record<string, unknown>,
  kvDatatype: CacheLayout['datatype'],
): ModelConfig {
  const int = (name: string, value: unknown): number => {
    if (!Number.isInteger(value) || (value as number) < 1)
      throw new Error(`config.json: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const heads = int('num_attention_heads', config.num_attention_heads);
  const hidden = int('hidden_size', config.hidden_size);
  const eos = generation.eos_token_id ?? config.eos_token_id;
  const eosTokenIds = (Array.isArray(eos) ? eos : eos === undefined || eos === null ? [] : [eos]).map((id: unknown) => {
    if (!Number.isInteger(id) || (id as number) < 0) throw new Error(`eos_token_id must hold token ids, got ${JSON.stringify(eos)}`);
    return id as number;
  });
  return {
    layout: {
      layers: int('num_hidden_layers', config.num_hidden_layers),
      kvHeads: int('num_key_value_heads', config.num_key_value_heads ?? heads),
      headDim: int('head_dim', config.head_dim ?? hidden / heads),
      datatype: kvDatatype,
    },
    positionIds: true,
    vocabSize: int('vocab_size', config.vocab_size),
    contextLength: int('max_position_embeddings', config.max_position_embeddings ?? 2048),
    eosTokenIds,
    samplingDefaults: samplingDefaults(generation),
  };
}

/** The sampling defaults of a generation_config.json; a value out of its range is ignored, as if absent. */
function samplingDefaults(generation: Record<string, unknown>): ModelConfig['samplingDefaults'] {
  const read = (key: string, ok: (v: number) => boolean): number | undefined => {
    const v = generation[key];
    return typeof v === 'number' && Number.isFinite(v) && ok(v) ? v : undefined;
  };
  const found = {
    temperature: read('temperature', (v) => v >= 0),
    topP: read('top_p', (v) => v > 0 && v <= 1),
    topK: read('top_k', (v) => Number.isInteger(v) && v >= 0),
    minP: read('min_p', (v) => v >= 0 && v <= 1),
    repetitionPenalty: read('repetition_penalty', (v) => v > 0),
  };
  return Object.fromEntries(Object.entries(found).filter(([, v]) => v !== undefined));
}

/**
 * Text generation inside a session worker: tokenizes or renders the prompt, runs every choice of a
 * request through the shared DecodeEngine, samples and detokenizes each step, and reports text
 * deltas as they become final (stop strings held back until decided).
 */
export class TextGenerator {
  private readonly engine: DecodeEngine;
  private readonly sampler: Sampler;
  private readonly budgetTokens: number;
  private nextSequence = 1;
  /** Request id -> the engine's sequence ids of its choices. */
  private readonly sequences = new Map<number, number[]>();

  constructor(
    private readonly tokenizer: GenerationTokenizer,
    private readonly model: ModelConfig,
    run: (feeds: NamedTensors, outputs: string[]) => Promise<NamedTensors>,
    private readonly limits: GeneratorLimits,
    private readonly vocabulary?: Vocabulary,
  ) {
    this.budgetTokens = Math.floor(limits.kvBudgetBytes / bytesPerToken(model.layout));
    this.engine = new DecodeEngine(
      { layout: model.layout, positionIds: model.positionIds, stepColumns: model.stepColumns, greedyToken: model.greedyToken, run },
      {
        maxSequences: limits.maxSequences,
        kvBudgetTokens: this.budgetTokens,
        prefillChunkTokens: limits.prefillChunkTokens,
        maxWaiting: limits.maxWaiting,
      },
    );
    this.sampler = new Sampler(model.vocabSize);
  }

  stats(): EngineStats {
    return this.engine.stats();
  }

  /** Ends a request's choices before the next step; its promise rejects with 'cancelled'. */
  cancel(requestId: number): void {
    for (const id of this.sequences.get(requestId) ?? []) this.engine.cancel(id);
  }

  /** Runs one request to its end, reporting events as it goes. Throws an AppError for a request that cannot run. */
  async generate(requestId: number, request: GenerateRequest, emit: (event: GenerateEvent) => void): Promise<GenerateResult> {
    let prompt = this.promptIds(request);
    const cap = Math.min(this.model.contextLength, this.budgetTokens);
    if (request.truncatePromptTokens !== undefined && prompt.length > request.truncatePromptTokens) {
      prompt = prompt.slice(prompt.length - request.truncatePromptTokens);
    }
    if (prompt.length === 0) throw new AppError(ErrorCode.ValidationFailed, 'the prompt is empty: it has no tokens');
    const room = cap - prompt.length;
    const maxTokens = request.maxTokens ?? room;
    if (room < 1 || maxTokens > room) {
      throw new AppError(
        ErrorCode.ContextLengthExceeded,
        `this model's context is ${cap} tokens` +
          (cap < this.model.contextLength ? ` (limited by the cache budget; the model takes ${this.model.contextLength})` : '') +
          `, but ${prompt.length} prompt tokens ${request.maxTokens === undefined ? 'leave no room for any output' : `plus max_tokens ${maxTokens} were asked`}`,
      );
    }
    const capacity = this.engine.capacity(prompt.length, maxTokens);
    if (request.n > capacity) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `n = ${request.n} choices of this size can never be taken: the server holds at most ${capacity}`,
      );
    }
    if (this.engine.full(prompt.length, maxTokens, request.n)) {
      throw new AppError(
        ErrorCode.Overloaded,
        `the model is generating all the sequences its cache budget holds and ${this.limits.maxWaiting} wait; retry later`,
        undefined,
        { 'Retry-After': String(this.limits.retryAfterSeconds) },
      );
    }
    emit({ type: 'accepted', promptTokens: prompt.length, maxTokens });
    const stopTokenIds = [...request.stopTokenIds, ...(request.ignoreEos ? [] : this.model.eosTokenIds)];
    const baseSeed = request.seed ?? randomSeed();
    const sampling: SamplingParams = {
      ...request.sampling,
      logitBias: request.sampling.logitBias ? new Map(request.sampling.logitBias) : undefined,
    };
    for (const field of request.unset ?? []) {
      const value = this.model.samplingDefaults[field];
      if (value !== undefined) sampling[field] = value;
    }
    const ids = Array.from({ length: request.n }, () => this.nextSequence++);
    this.sequences.set(requestId, ids);
    try {
      const choices = await Promise.all(
        ids.map(
          (id, choice) =>
            new Promise<{ finishReason: FinishReason; stopReason?: string | number; tokens: number }>((resolve, reject) => {
              const text = new SequenceText(this.tokenizer, { stop: request.stop, stopTokenIds, maxTokens }, prompt);
              const history = new TokenHistory(prompt);
              const rng = new SequenceRng(choiceSeed(baseSeed, choice));
              const sink: SequenceSink = {
                next: (logits, greedy) => {
                  const sampled =
                    logits === undefined
                      ? { id: greedy!, logprob: null, topLogprobs: [] }
                      : this.sampler.sample(logits, sampling, history, rng);
                  history.push(sampled.id);
                  const step = text.push(sampled.id);
                  emit({
                    type: 'delta',
                    choice,
                    text: step.delta,
                    tokens: 1,
                    ...(sampled.logprob !== null ? { logprobs: [this.report(sampled, sampled.logprob)] } : {}),
                    finishReason: step.finishReason,
                    ...(step.stopReason !== undefined ? { stopReason: step.stopReason } : {}),
                  });
                  if (step.finishReason) resolve({ finishReason: step.finishReason, stopReason: step.stopReason, tokens: text.tokens });
                  return { token: sampled.id, done: step.finishReason !== null };
                },
                abort: reject,
              };
              this.engine.submit({ id, prompt, maxTokens, sink, greedy: plainGreedy(sampling) });
            }),
        ),
      );
      return {
        promptTokens: prompt.length,
        completionTokens: choices.reduce((sum, c) => sum + c.tokens, 0),
        choices: choices.map(({ finishReason, stopReason }) =>
          stopReason === undefined ? { finishReason } : { finishReason, stopReason },
        ),
      };
    } catch (error) {
      this.cancel(requestId);
      throw error;
    } finally {
      this.sequences.delete(requestId);
    }
  }

  private promptIds(request: GenerateRequest): number[] {
    switch (request.prompt.kind) {
      case 'tokens':
        for (const id of request.prompt.ids) {
          if (!Number.isInteger(id) || id < 0 || id >= this.model.vocabSize) {
            throw new AppError(
              ErrorCode.ValidationFailed,
              `prompt token id ${id} is outside the vocabulary (0..${this.model.vocabSize - 1})`,
            );
          }
        }
        return request.prompt.ids;
      case 'text':
        return this.tokenizer.encode(request.prompt.text, { add_special_tokens: true });
      case 'chat':
        return this.tokenizer.encode(renderChatPrompt(this.tokenizer, request.prompt.messages), { add_special_tokens: false });
    }
  }

  private report(sampled: SampledToken, logprob: number): TokenReport {
    return { ...this.token(sampled.id), logprob, top: sampled.topLogprobs.map((t) => ({ ...this.token(t.id), logprob: t.logprob })) };
  }

  /** A token's text and bytes: from its vocabulary piece when known, else from decoding it alone. */
  private token(id: number): { id: number; text: string; bytes: number[] } {
    const piece = this.vocabulary?.pieces[id];
    if (piece !== undefined) {
      const bytes = tokenBytes(piece, this.vocabulary!.scheme);
      return { id, text: tokenText(bytes), bytes };
    }
    const text = this.tokenizer.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    return { id, text, bytes: Array.from(Buffer.from(text, 'utf8')) };
  }
}

import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { validate, wellFormedText } from '../common/http/validate-body.js';
import { chatMessagesSchema, type ChatMessage } from './chat-template.js';
import { DEFAULTABLE_SAMPLING, type DefaultableSampling, type SamplingParams } from './sampler.js';

/**
 * Request bodies of OpenAI's `POST /v1/chat/completions` and `POST /v1/completions` (the API
 * reference's fields and bounds), plus vLLM's extra sampling fields top_k, min_p,
 * repetition_penalty and stop_token_ids. Unknown fields are refused (400 naming the field) rather
 * than ignored, so a client asking for tools or response formats Lathe does not have finds out.
 */

export interface GenerationLimits {
  /** Most choices (`n`) one request may ask for. */
  maxChoices: number;
  /** Most prompts one /v1/completions request may hold. */
  maxPrompts: number;
}

export const DEFAULT_GENERATION_LIMITS: Readonly<GenerationLimits> = Object.freeze({ maxChoices: 16, maxPrompts: 64 });

/** OpenAI's limits: stop strings per request, top_logprobs, completions logprobs. */
export const MAX_STOP_STRINGS = 4;
export const MAX_TOP_LOGPROBS = 20;
export const MAX_COMPLETION_LOGPROBS = 5;
/** Most logit_bias entries and stop_token_ids (bounds the work per sampled token). */
export const MAX_LOGIT_BIAS = 1024;
export const MAX_STOP_TOKEN_IDS = 64;
/** Most tokens a request may ask to generate or send as a token prompt; the model's context is checked later. */
export const MAX_TOKENS_LIMIT = 1_048_576;

const maxTokens = z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional();
const tokenIds = z
  .array(
    z
      .int()
      .min(0)
      .max(2 ** 31 - 1),
  )
  .min(1);
const stopString = wellFormedText.min(1).max(1024);

/** The sampling fields both routes share. */
function samplingFields(limits: GenerationLimits) {
  return {
    model: z.string().min(1).max(256),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().gt(0).max(1).nullable().optional(),
    n: z.int().min(1).max(limits.maxChoices).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
    stop: z
      .union([stopString, z.array(stopString).max(MAX_STOP_STRINGS)], {
        error: `stop must be a string or a list of at most ${MAX_STOP_STRINGS} strings, each of 1 to 1024 characters`,
      })
      .nullable()
      .optional(),
    seed: z.int().nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    logit_bias: z.record(z.string(), z.number().min(-100).max(100)).superRefine(checkLogitBiasKeys).nullable().optional(),
    user: z.string().max(256).optional(),
    // vLLM's extras.
    top_k: z.int().min(-1).nullable().optional(),
    min_p: z.number().min(0).max(1).nullable().optional(),
    repetition_penalty: z.number().gt(0).max(2).nullable().optional(),
    stop_token_ids: z.array(z.int().min(0)).max(MAX_STOP_TOKEN_IDS).nullable().optional(),
    ignore_eos: z.boolean().nullable().optional(),
    truncate_prompt_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
  };
}

function checkLogitBiasKeys(bias: Record<string, number>, ctx: z.core.$RefinementCtx): void {
  const keys = Object.keys(bias);
  if (keys.length > MAX_LOGIT_BIAS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_LOGIT_BIAS} logit_bias entries` });
  for (const key of keys) {
    if (!/^\d{1,10}$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'logit_bias keys are token ids' });
  }
}

type Shared = { stream?: boolean | null; stream_options?: unknown };

function streamOptionsNeedStream(body: Shared, ctx: z.core.$RefinementCtx): void {
  if (body.stream_options != null && body.stream !== true) {
    ctx.addIssue({ code: 'custom', path: ['stream_options'], message: 'stream_options is only allowed when stream is true' });
  }
}

export function chatCompletionRequestSchema(limits: GenerationLimits = DEFAULT_GENERATION_LIMITS) {
  return z
    .strictObject({
      ...samplingFields(limits),
      messages: chatMessagesSchema,
      max_tokens: maxTokens,
      max_completion_tokens: maxTokens,
      logprobs: z.boolean().nullable().optional(),
      top_logprobs: z.int().min(0).max(MAX_TOP_LOGPROBS).nullable().optional(),
    })
    .superRefine((body, ctx) => {
      streamOptionsNeedStream(body, ctx);
      if (body.top_logprobs != null && body.logprobs !== true) {
        ctx.addIssue({ code: 'custom', path: ['top_logprobs'], message: 'top_logprobs needs logprobs: true' });
      }
    });
}

export function completionRequestSchema(limits: GenerationLimits = DEFAULT_GENERATION_LIMITS) {
  const text = wellFormedText.min(1, 'a prompt must not be empty');
  return z
    .strictObject({
      ...samplingFields(limits),
      prompt: z.union(
        [
          text,
          z.array(text).min(1).max(limits.maxPrompts),
          tokenIds.max(MAX_TOKENS_LIMIT),
          z.array(tokenIds.max(MAX_TOKENS_LIMIT)).min(1).max(limits.maxPrompts),
        ],
        { error: `prompt must be a string, a list of strings, a list of token ids or a list of those (at most ${limits.maxPrompts})` },
      ),
      max_tokens: maxTokens,
      logprobs: z.int().min(0).max(MAX_COMPLETION_LOGPROBS).nullable().optional(),
    })
    .superRefine(streamOptionsNeedStream);
}

export type ChatCompletionRequest = z.infer<ReturnType<typeof chatCompletionRequestSchema>>;
export type CompletionRequest = z.infer<ReturnType<typeof completionRequestSchema>>;

/** What the engine needs from either request, with OpenAI's and vLLM's defaults filled in. */
export interface GenerationSettings {
  model: string;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  /**
   * Undefined: until the model's context is full (chat; the engine passes SequenceText the room
   * left); /v1/completions defaults to 16 as OpenAI's.
   */
  maxTokens: number | undefined;
  stop: string[];
  stopTokenIds: number[];
  /** Undefined: the engine draws one per request (randomSeed); choice i samples with choiceSeed(seed, i). */
  seed: number | undefined;
  /** Null: no logprobs; otherwise how many top_logprobs per token (0: the chosen token's only). */
  logprobs: number | null;
  /** vLLM's: generate past the model's end-of-sequence tokens. */
  ignoreEos: boolean;
  /** vLLM's: keep only the prompt's last k tokens. */
  truncatePromptTokens: number | undefined;
  sampling: SamplingParams;
  /** The sampling fields the body did not set: the model's generation_config.json defaults apply to them. */
  unset: DefaultableSampling[];
}

/** The vLLM-named sampling fields a body left out (or null), as TextGenerator's names. */
export function unsetSampling(r: {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
}): DefaultableSampling[] {
  const given: Record<DefaultableSampling, unknown> = {
    temperature: r.temperature,
    topP: r.top_p,
    topK: r.top_k,
    minP: r.min_p,
    repetitionPenalty: r.repetition_penalty,
  };
  return DEFAULTABLE_SAMPLING.filter((field) => given[field] == null);
}

export interface ParsedChatRequest {
  body: ChatCompletionRequest;
  messages: ChatMessage[];
  settings: GenerationSettings;
}

export interface ParsedCompletionRequest {
  body: CompletionRequest;
  /** One entry per prompt: its text or its token ids. */
  prompts: Array<string | number[]>;
  settings: GenerationSettings;
}

/**
 * One schema per limits, built once: zod compiles an object schema's parser on its first use, which
 * costs milliseconds on the thread that answers HTTP.
 */
const chatSchemas = new Map<string, ReturnType<typeof chatCompletionRequestSchema>>();
const completionSchemas = new Map<string, ReturnType<typeof completionRequestSchema>>();
function cached<S>(cache: Map<string, S>, limits: GenerationLimits, build: (limits: GenerationLimits) => S): S {
  const key = `${limits.maxChoices}/${limits.maxPrompts}`;
  let schema = cache.get(key);
  if (!schema) cache.set(key, (schema = build(limits)));
  return schema;
}

export function parseChatCompletionRequest(body: unknown, limits: GenerationLimits = DEFAULT_GENERATION_LIMITS): ParsedChatRequest {
  const r = validate(cached(chatSchemas, limits, chatCompletionRequestSchema), body);
  const logprobs = r.logprobs === true ? (r.top_logprobs ?? 0) : null;
  return { body: r, messages: r.messages, settings: settingsOf(r, r.max_completion_tokens ?? r.max_tokens ?? undefined, logprobs) };
}

export function parseCompletionRequest(body: unknown, limits: GenerationLimits = DEFAULT_GENERATION_LIMITS): ParsedCompletionRequest {
  const r = validate(cached(completionSchemas, limits, completionRequestSchema), body);
  const p = r.prompt;
  const prompts: Array<string | number[]> =
    typeof p === 'string' ? [p] : typeof p[0] === 'number' ? [p as number[]] : (p as Array<string | number[]>).slice();
  return { body: r, prompts, settings: settingsOf(r, r.max_tokens ?? 16, r.logprobs ?? null) };
}

type SamplingBody = z.infer<z.ZodObject<ReturnType<typeof samplingFields>>>;

function settingsOf(r: SamplingBody, maxTokens: number | undefined, logprobs: number | null): GenerationSettings {
  const topK = r.top_k ?? 0;
  return {
    model: r.model,
    n: r.n ?? 1,
    stream: r.stream === true,
    includeUsage: r.stream === true && r.stream_options?.include_usage === true,
    maxTokens,
    stop: r.stop == null ? [] : typeof r.stop === 'string' ? [r.stop] : r.stop.slice(),
    stopTokenIds: r.stop_token_ids?.slice() ?? [],
    seed: r.seed ?? undefined,
    logprobs,
    ignoreEos: r.ignore_eos === true,
    truncatePromptTokens: r.truncate_prompt_tokens ?? undefined,
    sampling: {
      temperature: r.temperature ?? 1,
      topK: topK < 0 ? 0 : topK,
      topP: r.top_p ?? 1,
      minP: r.min_p ?? 0,
      repetitionPenalty: r.repetition_penalty ?? 1,
      presencePenalty: r.presence_penalty ?? 0,
      frequencyPenalty: r.frequency_penalty ?? 0,
      logitBias: r.logit_bias ? new Map(Object.entries(r.logit_bias).map(([id, bias]) => [Number(id), bias])) : undefined,
      logprobs: logprobs !== null,
      topLogprobs: logprobs ?? 0,
    },
    unset: unsetSampling(r),
  };
}

/**
 * Refuses token ids the model's vocabulary does not have (logit_bias keys, stop_token_ids, token
 * prompts) with a 400 naming the field; the engine calls it once it knows the model.
 */
export function checkTokenIds(settings: GenerationSettings, vocabSize: number, prompts: ReadonlyArray<string | number[]> = []): void {
  const problems: Array<{ field: string; problems: string[] }> = [];
  const check = (id: number, field: string) => {
    if (id >= vocabSize) problems.push({ field, problems: [`token id ${id} is not in the model's vocabulary (${vocabSize} tokens)`] });
  };
  for (const id of settings.sampling.logitBias?.keys() ?? []) check(id, `logit_bias.${id}`);
  settings.stopTokenIds.forEach((id, i) => check(id, `stop_token_ids.${i}`));
  prompts.forEach((prompt, p) => {
    if (typeof prompt === 'string') return;
    const bad = prompt.findIndex((id) => id >= vocabSize);
    if (bad >= 0) check(prompt[bad]!, prompts.length === 1 && typeof prompts[0] !== 'string' ? `prompt.${bad}` : `prompt.${p}.${bad}`);
  });
  if (problems.length === 0) return;
  throw new AppError(
    ErrorCode.ValidationFailed,
    `invalid request: ${problems.map((d) => `${d.field}: ${d.problems[0]}`).join('; ')}`,
    problems,
  );
}

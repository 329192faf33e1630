import { z } from 'zod';

/**
 * OpenAI's response objects for text generation, field for field: `chat.completion`,
 * `chat.completion.chunk` (one Server-Sent Event each, then `data: [DONE]`), `text_completion`
 * (the /v1/completions answer and its stream chunks) and `usage`. A type-level spec checks them
 * against the openai package's ChatCompletion, ChatCompletionChunk and Completion types.
 */

export const usageSchema = z.strictObject({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
});

export const finishReasonSchema = z.enum(['stop', 'length']);

const topLogprobSchema = z.strictObject({
  token: z.string(),
  logprob: z.number(),
  /** The token's UTF-8 bytes (a byte-level token may hold part of a character). */
  bytes: z.array(z.int().min(0).max(255)).nullable(),
});

export const chatTokenLogprobSchema = z.strictObject({
  ...topLogprobSchema.shape,
  top_logprobs: z.array(topLogprobSchema),
});

const chatLogprobsSchema = z.strictObject({
  content: z.array(chatTokenLogprobSchema).nullable(),
  refusal: z.null(),
});

const header = {
  /** "chatcmpl-..." or "cmpl-...". */
  id: z.string(),
  /** Unix seconds. */
  created: z.int(),
  model: z.string(),
  system_fingerprint: z.string().optional(),
};

export const chatCompletionSchema = z.strictObject({
  ...header,
  object: z.literal('chat.completion'),
  choices: z.array(
    z.strictObject({
      index: z.int().min(0),
      message: z.strictObject({ role: z.literal('assistant'), content: z.string().nullable(), refusal: z.null() }),
      logprobs: chatLogprobsSchema.nullable(),
      finish_reason: finishReasonSchema,
    }),
  ),
  usage: usageSchema,
});

/**
 * One streamed chat event. The first chunk of a choice carries `delta.role`, the last one its
 * `finish_reason`; with stream_options.include_usage every chunk has `usage: null` and a final
 * chunk with no choices carries the totals.
 */
export const chatCompletionChunkSchema = z.strictObject({
  ...header,
  object: z.literal('chat.completion.chunk'),
  choices: z.array(
    z.strictObject({
      index: z.int().min(0),
      delta: z.strictObject({ role: z.literal('assistant').optional(), content: z.string().optional() }),
      logprobs: chatLogprobsSchema.nullable().optional(),
      finish_reason: finishReasonSchema.nullable(),
    }),
  ),
  usage: usageSchema.nullable().optional(),
});

/** The legacy completions logprobs: parallel lists per token, top_logprobs as {token: logprob} maps. */
export const completionLogprobsSchema = z.strictObject({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number()),
  top_logprobs: z.array(z.record(z.string(), z.number())),
  /** Character offset of each token in the choice's text. */
  text_offset: z.array(z.int().min(0)),
});

const completionChoice = {
  index: z.int().min(0),
  text: z.string(),
  logprobs: completionLogprobsSchema.nullable(),
};

/** A /v1/completions answer. */
export const textCompletionSchema = z.strictObject({
  ...header,
  object: z.literal('text_completion'),
  choices: z.array(z.strictObject({ ...completionChoice, finish_reason: finishReasonSchema })),
  usage: usageSchema,
});

/**
 * One streamed /v1/completions event: the same object with part of a choice's text, finish_reason
 * null until the choice's last event, and with stream_options.include_usage `usage` null until a
 * final event with no choices carries the totals (OpenAI's and vLLM's streams).
 */
export const textCompletionChunkSchema = z.strictObject({
  ...header,
  object: z.literal('text_completion'),
  choices: z.array(z.strictObject({ ...completionChoice, finish_reason: finishReasonSchema.nullable() })),
  usage: usageSchema.nullable().optional(),
});

export type Usage = z.infer<typeof usageSchema>;
export type ChatCompletionResponse = z.infer<typeof chatCompletionSchema>;
export type ChatCompletionChunk = z.infer<typeof chatCompletionChunkSchema>;
export type TextCompletionResponse = z.infer<typeof textCompletionSchema>;
export type TextCompletionChunk = z.infer<typeof textCompletionChunkSchema>;
export type ChatTokenLogprob = z.infer<typeof chatTokenLogprobSchema>;

/** The `bytes` OpenAI reports for a token's text: its UTF-8 encoding. */
export function utf8Bytes(text: string): number[] {
  return Array.from(Buffer.from(text, 'utf8'));
}

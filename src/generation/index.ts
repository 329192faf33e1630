/**
 * The engine-independent parts of text generation: pure TypeScript with no ONNX Runtime, no threads
 * and no runtime import of Transformers.js (tokenizers are passed in), so a session worker can run
 * them per token and specs can test them fast.
 *
 * - Sampling: `Sampler` (one per worker and vocabulary size) picks each sequence's next token from
 *   its logits row with its `SamplingParams`, `TokenHistory` and seeded `SequenceRng`.
 * - Text: `SequenceText` turns each sequence's tokens into streamed text deltas with OpenAI's stop
 *   strings, stop tokens and max_tokens; `IncrementalDetokenizer` is its UTF-8-safe decoder.
 * - Chat: `renderChatPrompt` renders validated messages with the model's chat template.
 * - HTTP shapes: `parseChatCompletionRequest` / `parseCompletionRequest` validate OpenAI bodies
 *   (400 VALIDATION_FAILED naming each field) into `GenerationSettings`; the response schemas give
 *   OpenAI's exact answer and stream chunk objects.
 */
export { choiceSeed, randomSeed, SequenceRng } from './prng.js';
export { argmax, logSumExp, NEUTRAL_SAMPLING, Sampler, topLogprobs } from './sampler.js';
export type { SampledToken, SamplingParams, TokenLogprob, Warped } from './sampler.js';
export { TokenHistory } from './token-history.js';
export { IncrementalDetokenizer, SequenceText } from './stop.js';
export { BYTE_TO_CHAR, tokenBytes, tokenText } from './token-bytes.js';
export type { VocabularyScheme } from './token-bytes.js';
export type { Detokenizer, FinishReason, StopConditions, TextStep } from './stop.js';
export { chatMessageSchema, chatMessagesSchema, MAX_CHAT_MESSAGES, renderChatPrompt, toTemplateMessage } from './chat-template.js';
export type { ChatMessage, ChatTemplateTokenizer, TemplateMessage } from './chat-template.js';
export {
  chatCompletionRequestSchema,
  checkTokenIds,
  completionRequestSchema,
  DEFAULT_GENERATION_LIMITS,
  MAX_COMPLETION_LOGPROBS,
  MAX_LOGIT_BIAS,
  MAX_STOP_STRINGS,
  MAX_STOP_TOKEN_IDS,
  MAX_TOKENS_LIMIT,
  MAX_TOP_LOGPROBS,
  parseChatCompletionRequest,
  parseCompletionRequest,
} from './openai-schemas.js';
export type {
  ChatCompletionRequest,
  CompletionRequest,
  GenerationLimits,
  GenerationSettings,
  ParsedChatRequest,
  ParsedCompletionRequest,
} from './openai-schemas.js';
export {
  chatCompletionChunkSchema,
  chatCompletionSchema,
  chatTokenLogprobSchema,
  completionLogprobsSchema,
  finishReasonSchema,
  textCompletionChunkSchema,
  textCompletionSchema,
  usageSchema,
  utf8Bytes,
} from './openai-responses.js';
export type {
  ChatCompletionChunk,
  ChatCompletionResponse,
  ChatTokenLogprob,
  TextCompletionChunk,
  TextCompletionResponse,
  Usage,
} from './openai-responses.js';

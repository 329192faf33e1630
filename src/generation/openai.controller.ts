import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { abortWhenGone } from './event-stream.js';
import { collected, errorEvent, generateRequest, type Launch, streamed } from './generation-http.js';
import { GenerationService } from './generation.service.js';
import { ChatAnswer, ChatStream, CompletionAnswer, CompletionStream } from './openai-format.js';
import { chatCompletionSchema, textCompletionSchema } from './openai-responses.js';
import {
  chatCompletionRequestSchema,
  checkTokenIds,
  completionRequestSchema,
  parseChatCompletionRequest,
  parseCompletionRequest,
} from './openai-schemas.js';

export const GENERATION_ERRORS = [
  ErrorCode.ValidationFailed,
  ErrorCode.EmptyBody,
  ErrorCode.ContextLengthExceeded,
  ErrorCode.ModelNotFound,
  ErrorCode.ModelNotInstalled,
  ErrorCode.ModelLoadFailed,
  ErrorCode.Overloaded,
];

const STREAMING =
  'With `stream: true` the answer is Server-Sent Events (`text/event-stream`): one `data:` line per chunk object, then `data: [DONE]`; ' +
  '`stream_options.include_usage` adds `usage: null` to every chunk and a last chunk with no choices and the totals. ' +
  'An error after the stream has begun is sent as a `data: {"error": {...}}` event before the stream ends. ';
const SAMPLING =
  'Sampling: `temperature` (0: greedy), `top_p`, and vLLM’s `top_k`, `min_p`, `repetition_penalty`; `presence_penalty` and ' +
  '`frequency_penalty`; `logit_bias`; `seed` (the same seed and request give the same tokens; choice i uses seed + i). ' +
  'Stops: `stop` (up to 4 strings; the text ends before it), vLLM’s `stop_token_ids`, the model’s end-of-sequence tokens unless ' +
  '`ignore_eos`. A prompt that leaves no room for `max_tokens` in the model’s context is 400 `CONTEXT_LENGTH_EXCEEDED` unless ' +
  '`truncate_prompt_tokens` keeps only its last tokens. When the decode loop is full, 429 `OVERLOADED` with `Retry-After`. ' +
  'A client that disconnects frees its sequences at the next decode step. ';

/** OpenAI's text generation routes, over the decode loop of a text-generation model's workers. */
@ApiTags('Text generation')
@Controller('v1')
export class OpenAiGenerationController {
  constructor(private readonly generation: GenerationService) {}

  @Post('chat/completions')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Chat completions (OpenAI's API): the assistant's reply to a conversation, rendered with the model's chat template",
    description: STREAMING + SAMPLING + '`logprobs: true` with `top_logprobs` (0-20) reports each token’s log-probability under the model.',
    auth: 'infer',
    errors: GENERATION_ERRORS,
    body: chatCompletionRequestSchema(),
    bodyExample: { model: 'tiny-chat', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 16, temperature: 0 },
    ok: { schema: chatCompletionSchema },
  })
  async chatCompletions(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const { messages, settings } = parseChatCompletionRequest(body);
    const model = await this.generation.model(settings.model);
    checkTokenIds(settings, await this.generation.vocabularySize(model));
    const request = generateRequest({ kind: 'chat', messages }, settings);
    const abort = abortWhenGone(reply);
    const launches: Launch[] = [{ offset: 0, start: (onEvent) => this.generation.start(model, request, onEvent, abort.signal) }];
    const logprobs = settings.logprobs !== null;
    if (!settings.stream) {
      const answer = new ChatAnswer(model.name, logprobs);
      const results = await collected(abort, launches, (delta, index) => answer.add(delta, index));
      await reply.send(answer.body(results));
      return;
    }
    const stream = new ChatStream(model.name, logprobs, settings.includeUsage);
    await streamed(reply, abort, launches, {
      opening: () => stream.opening(Array.from({ length: settings.n }, (_, i) => i)),
      chunks: (delta, index) => stream.chunks(delta, index),
      closing: (results) => stream.closing(results),
      done: '[DONE]',
      error: errorEvent,
    });
  }

  @Post('completions')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Completions (OpenAI's legacy API): the text that follows each prompt",
    description:
      '`prompt`: a string, a list of strings, a list of token ids, or a list of those; the choices of prompt p are numbered p·n to p·n + n − 1. ' +
      '`max_tokens` defaults to 16. ' +
      STREAMING +
      SAMPLING +
      '`logprobs` (0-5) reports each token’s log-probability and that many alternatives.',
    auth: 'infer',
    errors: GENERATION_ERRORS,
    body: completionRequestSchema(),
    bodyExample: { model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 },
    ok: { schema: textCompletionSchema },
  })
  async completions(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const { prompts, settings } = parseCompletionRequest(body);
    const model = await this.generation.model(settings.model);
    checkTokenIds(settings, await this.generation.vocabularySize(model), prompts);
    const abort = abortWhenGone(reply);
    const launches: Launch[] = prompts.map((prompt, p) => {
      const request = generateRequest(
        typeof prompt === 'string' ? { kind: 'text', text: prompt } : { kind: 'tokens', ids: prompt },
        settings,
      );
      return { offset: p * settings.n, start: (onEvent) => this.generation.start(model, request, onEvent, abort.signal) };
    });
    const logprobs = settings.logprobs !== null;
    if (!settings.stream) {
      const answer = new CompletionAnswer(model.name, logprobs);
      const results = await collected(abort, launches, (delta, index) => answer.add(delta, index));
      await reply.send(answer.body(results));
      return;
    }
    const stream = new CompletionStream(model.name, logprobs, settings.includeUsage);
    await streamed(reply, abort, launches, {
      opening: () => [],
      chunks: (delta, index) => stream.chunks(delta, index),
      closing: (results) => stream.closing(results),
      done: '[DONE]',
      error: errorEvent,
    });
  }
}

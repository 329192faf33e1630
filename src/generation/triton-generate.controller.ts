import { Body, Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { validate, wellFormedText } from '../common/http/validate-body.js';
import { abortWhenGone } from './event-stream.js';
import { collected, generateRequest, type Launch, streamed } from './generation-http.js';
import { GenerationService } from './generation.service.js';
import { GENERATION_ERRORS } from './openai.controller.js';
import {
  checkTokenIds,
  type GenerationSettings,
  MAX_STOP_STRINGS,
  MAX_STOP_TOKEN_IDS,
  MAX_TOKENS_LIMIT,
  unsetSampling,
} from './openai-schemas.js';

const modelParams = z.object({ model: z.string().min(1).meta({ example: 'tiny-chat' }) });
const versionParams = modelParams.extend({ version: z.string().min(1).meta({ example: '1' }) });

/** Sampling settings, at the top level of the body (TensorRT-LLM's backend) or in `parameters` (vLLM's backend). */
const generateSettings = {
  stream: z.boolean().optional(),
  max_tokens: z.int().min(1).max(MAX_TOKENS_LIMIT).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  top_k: z.int().min(-1).optional(),
  min_p: z.number().min(0).max(1).optional(),
  repetition_penalty: z.number().gt(0).max(2).optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  seed: z.int().optional(),
  stop: z.union([wellFormedText.min(1).max(1024), z.array(wellFormedText.min(1).max(1024)).max(MAX_STOP_STRINGS)]).optional(),
  stop_token_ids: z.array(z.int().min(0)).max(MAX_STOP_TOKEN_IDS).optional(),
  ignore_eos: z.boolean().optional(),
};

/** Triton's generate extension request: `text_input`, an optional `id` echoed back, and the sampling settings. */
export const tritonGenerateRequest = z.strictObject({
  id: z.string().max(256).optional(),
  text_input: wellFormedText.min(1, 'text_input must not be empty'),
  parameters: z.strictObject(generateSettings).optional(),
  ...generateSettings,
});

export const tritonGenerateResponse = z.strictObject({
  id: z.string().optional(),
  model_name: z.string(),
  model_version: z.string(),
  text_output: z.string(),
});

/** What the four routes share in the document: auth, errors, body. */
const GENERATE = {
  auth: 'infer',
  errors: GENERATION_ERRORS,
  body: tritonGenerateRequest,
  bodyExample: { text_input: 'Once upon a time', parameters: { max_tokens: 16, temperature: 0 } },
} as const;
const STREAM_OK = {
  contentType: 'text/event-stream',
  schema: { type: 'string' },
  example: 'data: {"model_name":"tiny-chat","model_version":"1","text_output":" there"}\n\n',
};

/** Triton's generate extension (POST /v2/models/{model}[/versions/{version}]/generate and generate_stream). */
@ApiTags('Text generation')
@Controller('v2/models')
export class TritonGenerateController {
  constructor(private readonly generation: GenerationService) {}

  @Post(':model/generate')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Generate (Triton's generate extension): the text that follows text_input",
    description:
      'Settings at the top level or in `parameters` (`parameters` wins): `max_tokens` (default 16), `temperature` (default 1; 0 is greedy), ' +
      '`top_p`, `top_k`, `min_p`, `repetition_penalty`, `presence_penalty`, `frequency_penalty`, `seed`, `stop`, `stop_token_ids`, `ignore_eos`.',
    ...GENERATE,
    params: modelParams,
    ok: { schema: tritonGenerateResponse },
  })
  generate(@Param() params: unknown, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    return this.run(params, body, reply, false);
  }

  @Post(':model/versions/:version/generate')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Generate (Triton's generate extension) on one version of a model",
    ...GENERATE,
    params: versionParams,
    ok: { schema: tritonGenerateResponse },
  })
  generateVersion(@Param() params: unknown, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    return this.run(params, body, reply, false);
  }

  @Post(':model/generate_stream')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Generate as Server-Sent Events (Triton's generate extension): one `data:` event per piece of text_output",
    description: 'The same request as generate; an error after the stream has begun is a `data: {"error": "..."}` event.',
    ...GENERATE,
    params: modelParams,
    ok: STREAM_OK,
  })
  generateStream(@Param() params: unknown, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    return this.run(params, body, reply, true);
  }

  @Post(':model/versions/:version/generate_stream')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Generate as Server-Sent Events on one version of a model (Triton's generate extension)",
    ...GENERATE,
    params: versionParams,
    ok: STREAM_OK,
  })
  generateStreamVersion(@Param() params: unknown, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    return this.run(params, body, reply, true);
  }

  private async run(params: unknown, body: unknown, reply: FastifyReply, stream: boolean): Promise<void> {
    const path = validate(versionParams.partial({ version: true }), params);
    const request = validate(tritonGenerateRequest, body);
    const settings = settingsOf({ ...request, ...request.parameters });
    const model = await this.generation.model(path.model, path.version);
    checkTokenIds(settings, await this.generation.vocabularySize(model));
    const abort = abortWhenGone(reply);
    const generate = generateRequest({ kind: 'text', text: request.text_input }, settings);
    const launches: Launch[] = [{ offset: 0, start: (onEvent) => this.generation.start(model, generate, onEvent, abort.signal) }];
    const header = { ...(request.id !== undefined ? { id: request.id } : {}), model_name: model.name, model_version: model.version };
    if (!stream) {
      const parts: string[] = [];
      await collected(abort, launches, (delta) => delta.text && parts.push(delta.text));
      await reply.send({ ...header, text_output: parts.join('') });
      return;
    }
    await streamed(reply, abort, launches, {
      opening: () => [],
      chunks: (delta) => (delta.text ? [{ ...header, text_output: delta.text }] : []),
      closing: () => [],
      error: (err) => ({ error: err.message }),
    });
  }
}

type Settings = z.infer<z.ZodObject<typeof generateSettings>>;

function settingsOf(s: Settings): GenerationSettings {
  return {
    model: '',
    n: 1,
    stream: s.stream === true,
    includeUsage: false,
    maxTokens: s.max_tokens ?? 16,
    stop: s.stop === undefined ? [] : typeof s.stop === 'string' ? [s.stop] : s.stop,
    stopTokenIds: s.stop_token_ids ?? [],
    seed: s.seed,
    logprobs: null,
    ignoreEos: s.ignore_eos === true,
    truncatePromptTokens: undefined,
    sampling: {
      temperature: s.temperature ?? 1,
      topK: s.top_k === undefined || s.top_k < 0 ? 0 : s.top_k,
      topP: s.top_p ?? 1,
      minP: s.min_p ?? 0,
      repetitionPenalty: s.repetition_penalty ?? 1,
      presencePenalty: s.presence_penalty ?? 0,
      frequencyPenalty: s.frequency_penalty ?? 0,
      logprobs: false,
      topLogprobs: 0,
    },
    unset: unsetSampling(s),
  };
}

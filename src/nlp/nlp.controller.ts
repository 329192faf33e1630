import { Body, Controller, HttpCode, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { TaskTrace } from '../tasks/task-models.service.js';
import { TASK_HEADERS } from '../tasks/task-openapi.js';
import { embeddingsRequest, EmbeddingsService, MAX_EMBEDDING_INPUTS } from './embeddings.service.js';
import { classifyRequest, TextClassifyService, tokensRequest } from './text-classify.service.js';
import { isHfFeatureBody, type ModelQuery, modelQuery } from './hf-inference.js';
import { TeiService } from './tei.service.js';

const HF_NOTE = 'Hugging Face Inference bodies are taken too (`@huggingface/inference` pointed at this URL with `?model=NAME`): ';

const TEXT_ERRORS = [
  ErrorCode.ValidationFailed,
  ErrorCode.EmptyBody,
  ErrorCode.InputTooLong,
  ErrorCode.TooManyInputs,
  ErrorCode.ModelNotFound,
  ErrorCode.ModelNotInstalled,
  ErrorCode.ModelLoadFailed,
  ErrorCode.Overloaded,
  ErrorCode.DeadlineExceeded,
];

@ApiTags('Text')
@Controller('v1')
export class NlpController {
  constructor(
    private readonly embeddings: EmbeddingsService,
    private readonly classifier: TextClassifyService,
    private readonly tei: TeiService,
  ) {}

  @Post('embeddings')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Embeddings (OpenAI's API): one vector per input",
    description:
      `\`input\`: a string, a list of up to ${MAX_EMBEDDING_INPUTS} strings, a token array or a list of them. ` +
      '`encoding_format` float or base64 (little-endian float32); `dimensions` keeps the first n and renormalises. ' +
      "Pooling and normalisation come from the model's manifest. Lathe adds `truncate`: cut inputs longer than the model takes instead of 413. " +
      HF_NOTE +
      'a feature-extraction body `{"inputs", "normalize", "truncate", "truncation_direction", "prompt_name"}` answers one vector ' +
      '(a list of numbers) for a string and a list of vectors for a list. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TEXT_ERRORS,
    body: embeddingsRequest,
    query: modelQuery,
    bodyExample: { model: 'glove-100d', input: ['a cat sat on the mat', 'stock markets fell'] },
    ok: {
      example: {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [0.012, -0.034] }],
        model: 'glove-100d',
        usage: { prompt_tokens: 6, total_tokens: 6 },
      },
    },
  })
  async embed(@Body() body: unknown, @Query() query: ModelQuery, @Res({ passthrough: true }) reply: FastifyReply) {
    const trace = new TaskTrace();
    const result = isHfFeatureBody(body) ? await this.tei.featureExtraction(body, query, trace) : await this.embeddings.embed(body, trace);
    reply.headers(trace.headers());
    return result;
  }

  @Post('text/classify')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Text classification: [{label, score}] per input, best first (Hugging Face text-classification)',
    description:
      '`inputs`: a string or a list of strings. `top_k` labels per input (default 1). `function_to_apply`: softmax, sigmoid or none; ' +
      'by default sigmoid for multi-label models (config.json problem_type) and softmax otherwise. ' +
      HF_NOTE +
      '`{"inputs", "parameters": {"top_k", "function_to_apply"}}` answers one list per input, every label unless top_k is given. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TEXT_ERRORS,
    body: classifyRequest,
    query: modelQuery,
    bodyExample: { model: 'sentiment', inputs: 'what a lovely day', top_k: 2 },
    ok: {
      example: [
        { label: 'positive', score: 0.93 },
        { label: 'neutral', score: 0.05 },
      ],
    },
  })
  async classifyText(@Body() body: unknown, @Query() query: ModelQuery, @Res({ passthrough: true }) reply: FastifyReply) {
    const trace = new TaskTrace();
    const result = await this.classifier.classify(body, trace, query);
    reply.headers(trace.headers());
    return result;
  }

  @Post('text/tokens')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Token classification (named entities) with character start/end in the original text',
    description:
      '`aggregation_strategy`: none (every token: entity, score, index, word, start, end), simple, first, max or average ' +
      "(grouped: entity_group, score, word, start, end), as Hugging Face's pipeline. `start`/`end` count Unicode code points of the " +
      'original text. `ignore_labels` (default ["O"]). ' +
      HF_NOTE +
      '`{"inputs", "parameters": {"aggregation_strategy", "ignore_labels"}}` groups entities ("simple") unless told otherwise. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TEXT_ERRORS,
    body: tokensRequest,
    query: modelQuery,
    bodyExample: { model: 'ner', inputs: 'Ana flew to München', aggregation_strategy: 'simple' },
    ok: {
      example: [
        { entity_group: 'PER', score: 0.98, word: 'ana', start: 0, end: 3 },
        { entity_group: 'LOC', score: 0.95, word: 'munchen', start: 12, end: 19 },
      ],
    },
  })
  async tokens(@Body() body: unknown, @Query() query: ModelQuery, @Res({ passthrough: true }) reply: FastifyReply) {
    const trace = new TaskTrace();
    const result = await this.classifier.tokens(body, trace, query);
    reply.headers(trace.headers());
    return result;
  }
}

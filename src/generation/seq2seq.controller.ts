import { Body, Controller, HttpCode, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint, type ApiEndpointOptions } from '../common/openapi/api-endpoint.decorator.js';
import { TaskTrace } from '../tasks/task-models.service.js';
import { TASK_HEADERS } from '../tasks/task-openapi.js';
import { abortWhenGone } from './event-stream.js';
import { MAX_BEAMS } from './seq2seq-search.js';
import { MAX_SEQ2SEQ_INPUTS, seq2seqQuery, seq2seqRequest } from './seq2seq-schemas.js';
import { type Seq2SeqRoute, Seq2SeqService } from './seq2seq.service.js';

const COMMON: Omit<ApiEndpointOptions, 'summary'> = {
  auth: 'infer',
  errors: [
    ErrorCode.ValidationFailed,
    ErrorCode.EmptyBody,
    ErrorCode.InputTooLong,
    ErrorCode.ContextLengthExceeded,
    ErrorCode.ModelNotFound,
    ErrorCode.ModelNotInstalled,
    ErrorCode.ModelLoadFailed,
    ErrorCode.Overloaded,
  ],
  body: seq2seqRequest,
  query: seq2seqQuery,
};

const PARAMETERS =
  `\`inputs\` (or \`input\`): a string or a list of up to ${MAX_SEQ2SEQ_INPUTS}; the answer has one object per input, in order. ` +
  '`parameters` (also nested in `generate_parameters`): `max_new_tokens` (default 256, at most what the decoder takes), `min_new_tokens`, ' +
  `\`num_beams\` (1-${MAX_BEAMS}; beam search as Hugging Face defines it, with \`length_penalty\` and \`early_stopping\` true | false | "never"), ` +
  '`do_sample` with `temperature`, `top_k`, `top_p` and `seed`, `repetition_penalty`, `no_repeat_ngram_size`. ' +
  "Unset settings come from the model's generation_config.json. An input longer than the model's encoder takes is 413 INPUT_TOO_LONG. " +
  TASK_HEADERS;

@ApiTags('Text')
@Controller('v1/text')
export class Seq2SeqController {
  constructor(private readonly seq2seq: Seq2SeqService) {}

  @Post('translation')
  @HttpCode(200)
  @ApiEndpoint({
    ...COMMON,
    summary: 'Translation: [{translation_text}] per input (Hugging Face translation)',
    description:
      '`parameters.src_lang` / `tgt_lang`: M2M100 and NLLB models need both (their language codes: `en`, `eng_Latn`); a T5 model ' +
      'takes them to pick its `translation_{src}_to_{tgt}` prefix; a language or pair the model does not know is 400 VALIDATION_FAILED. ' +
      PARAMETERS,
    bodyExample: { model: 'opus-mt-en-de', inputs: 'How are you?', parameters: { num_beams: 4 } },
    ok: { example: [{ translation_text: 'Wie geht es dir?' }] },
  })
  translateText(@Body() body: unknown, @Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run('translation', body, query, reply);
  }

  @Post('summarization')
  @HttpCode(200)
  @ApiEndpoint({
    ...COMMON,
    summary: 'Summarization: [{summary_text}] per input (Hugging Face summarization)',
    description: "The model's summarization prefix and settings (config.json task_specific_params) apply. " + PARAMETERS,
    bodyExample: { model: 'distilbart-cnn', inputs: 'The tower is 324 metres tall, about the same height as an 81-storey building.' },
    ok: { example: [{ summary_text: 'The tower is 324 metres tall.' }] },
  })
  summarizeText(@Body() body: unknown, @Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run('summarization', body, query, reply);
  }

  @Post('text2text')
  @HttpCode(200)
  @ApiEndpoint({
    ...COMMON,
    summary: 'Text-to-text generation: [{generated_text}] per input (Hugging Face text2text-generation)',
    description: 'For T5-style models; the prompt carries the task ("translate English to German: ..."). ' + PARAMETERS,
    bodyExample: { model: 'flan-t5-small', inputs: 'translate English to German: How old are you?' },
    ok: { example: [{ generated_text: 'Wie alt sind Sie?' }] },
  })
  generateText2Text(@Body() body: unknown, @Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run('text2text', body, query, reply);
  }

  private async run(route: Seq2SeqRoute, body: unknown, query: unknown, reply: FastifyReply) {
    const trace = new TaskTrace();
    const result = await this.seq2seq.run(route, body, query, trace, abortWhenGone(reply).signal);
    reply.headers(trace.headers());
    return result;
  }
}

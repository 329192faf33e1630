import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { readMedia } from '../tasks/media-input.js';
import { TaskTrace } from '../tasks/task-models.service.js';
import { SAMPLE_WAV } from '../tasks/media-examples.js';
import { mediaRequest, TASK_ERRORS, TASK_HEADERS } from '../tasks/task-openapi.js';
import { keywordOptions, SpeechService, vadOptions } from './speech.service.js';
import { SynthesisService, speechRequestSchema } from './synthesis.service.js';
import { type Transcription, TranscriptionService, transcriptionOptions, translationOptions } from './transcription.service.js';

const AUDIO_ERRORS = [...TASK_ERRORS, ErrorCode.AudioTooLong];
const AUDIO_INPUT =
  'Send the audio as the body (audio/*, options in the query), as multipart files, or as JSON {"audio": base64} / {"audios": [...]} ' +
  "(one result per recording). WAV is decoded natively; MP3, OGG/Opus, FLAC, M4A and WebM through ffmpeg; all resampled to the model's rate, mono. ";

@ApiTags('Speech')
@Controller('v1/speech')
export class SpeechController {
  constructor(private readonly speech: SpeechService) {}

  @Post('vad')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Voice activity detection: speech segments [{start, end, confidence}] in seconds (Silero VAD v5)',
    description:
      AUDIO_INPUT +
      "Options have the semantics of Silero's get_speech_timestamps. The recurrent model runs over the whole recording in one worker call. " +
      TASK_HEADERS,
    auth: 'infer',
    errors: AUDIO_ERRORS,
    ...mediaRequest('audio', vadOptions, { audio: SAMPLE_WAV }),
    ok: {
      example: {
        model: 'silero-vad',
        version: '1',
        duration: 6.2,
        sampling_rate: 16000,
        segments: [{ start: 1.47, end: 3.02, confidence: 0.93 }],
      },
    },
  })
  async vad(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const media = await readMedia(request, 'audio');
    const results = await this.speech.vad(media, trace);
    await reply.headers(trace.headers()).send(media.batch ? results : results[0]);
  }

  @Post('keywords')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Keyword spotting: the 12 classes with scores for every 1 s window (MLPerf Tiny DS-CNN)',
    description:
      AUDIO_INPUT +
      'Each 1 s window (the last padded with silence) becomes 49 frames x 10 MFCC (40 ms window, 20 ms hop). ' +
      'Answers 503 MODEL_NOT_INSTALLED when the model file is not on this server. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: AUDIO_ERRORS,
    ...mediaRequest('audio', keywordOptions, { audio: SAMPLE_WAV }),
    ok: {
      example: {
        model: 'keyword-spotting',
        version: '1',
        duration: 1,
        windows: [
          {
            start: 0,
            end: 1,
            scores: [
              { label: 'yes', score: 0.91 },
              { label: 'unknown', score: 0.05 },
            ],
          },
        ],
      },
    },
  })
  async keywords(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const media = await readMedia(request, 'audio');
    const results = await this.speech.keywords(media, trace);
    await reply.headers(trace.headers()).send(media.batch ? results : results[0]);
  }
}

@ApiTags('Speech')
@Controller('v1/audio')
export class AudioController {
  constructor(
    private readonly transcriber: TranscriptionService,
    private readonly synthesizer: SynthesisService,
  ) {}

  @Post('transcriptions')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Speech to text (OpenAI's transcription API) with Whisper-layout models",
    description:
      'Multipart like OpenAI: `file`, `model`, `language`, `prompt` (not used; the response says so in x-lathe-notice), ' +
      '`response_format` json | text | verbose_json (segments with start and end in seconds), `temperature`. ' +
      'Audio longer than 30 s is cut into 30 s windows overlapping by 5 s. The model runs in Transformers.js pipeline workers. ' +
      'Without `language`, a multilingual model detects it from the first 30 s (its language tokens after <|startoftranscript|>); ' +
      'the language is in Content-Language and in verbose_json. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: AUDIO_ERRORS,
    form: { files: { file: 'the recording' }, fields: transcriptionOptions },
    // Options may also come in the query, as on every media route.
    query: transcriptionOptions.partial(),
    ok: { example: { text: 'the invoice is due on friday' } },
  })
  async transcribe(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const media = await readMedia(request, 'audio');
    await this.answer(reply, trace, await this.transcriber.transcribe(media, trace, 'transcribe'));
  }

  @Post('translations')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Speech to English text (OpenAI's translation API) with multilingual Whisper-layout models",
    description:
      'Multipart like OpenAI: `file`, `model`, `prompt` (not used; said in x-lathe-notice), `response_format` json | text | ' +
      'verbose_json (with the detected spoken `language` and segments), `temperature`. The spoken language is detected from the ' +
      "first 30 s (the model's language tokens after <|startoftranscript|>) and sent in Content-Language; the text is Whisper's " +
      'translate task. An English-only model is refused with 400. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: AUDIO_ERRORS,
    form: { files: { file: 'the recording' }, fields: translationOptions },
    query: translationOptions.partial(),
    ok: { example: { text: 'the invoice is due on friday' } },
  })
  async translate(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const media = await readMedia(request, 'audio');
    await this.answer(reply, trace, await this.transcriber.transcribe(media, trace, 'translate'));
  }

  private async answer(reply: FastifyReply, trace: TaskTrace, { body, notes, language }: Transcription): Promise<void> {
    reply.headers(trace.headers()).header('content-language', language);
    if (notes.length > 0) reply.header('x-lathe-notice', notes.join('; '));
    if (typeof body === 'string') reply.type('text/plain; charset=utf-8');
    await reply.send(body);
  }

  @Post('speech')
  @HttpCode(200)
  @ApiEndpoint({
    summary: "Text to speech (OpenAI's speech API) with VITS-layout models (MMS-TTS)",
    description:
      "JSON like OpenAI: `model`, `input` (at most LATHE_SPEECH_MAX_INPUT_CHARS characters), `voice` (one of the model's voices: " +
      "its manifest's `parameters.voices`, else `default`), `response_format` mp3 | opus (Ogg) | aac (ADTS) | flac | wav | pcm " +
      '(16-bit little-endian, no header), `speed` 0.25 to 4 (a tempo change that keeps the pitch). Every format is 24 kHz mono. ' +
      'The input is spoken sentence by sentence and the encoded audio is streamed as each sentence is done; the first sentence is ' +
      'spoken before the status line, so a refusal still has its status. `instructions` is accepted and not used (x-lathe-notice). ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TASK_ERRORS,
    body: speechRequestSchema(4096),
    bodyExample: { model: 'mms-tts-eng', input: 'Hello from Lathe.', voice: 'default', response_format: 'wav' },
    ok: { description: 'The encoded audio.', contentType: 'audio/mpeg', schema: { type: 'string', format: 'binary' } },
  })
  async createSpeech(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.synthesizer.speak(body, reply, new TaskTrace());
  }
}

import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type MediaRequest, mediaOptions, opt, parseOptions } from '../tasks/media-input.js';
import { TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { AudioDecoder } from './audio-decoder.service.js';
import { tasksFor } from '../contracts/task-table.js';
import { transcriptionOutput } from './speech-pipeline.js';

const SAMPLE_RATE = 16_000;
/** Whisper reads 30 s windows; longer audio is cut into windows that overlap by 5 s and stitched. */
const CHUNK_SECONDS = 30;
const STRIDE_SECONDS = 5;

export const transcriptionOptions = mediaOptions({
  model: opt.model().meta({ example: 'whisper-tiny' }),
  language: z
    .string()
    .regex(/^[a-z]{2,3}$/, 'must be an ISO-639-1 code such as "en"')
    .optional()
    .meta({ example: 'en' }),
  prompt: z.string().max(10_000).optional(),
  response_format: z.enum(['json', 'text', 'verbose_json']).default('json'),
  temperature: opt.number(0, 1).default(0),
  'timestamp_granularities[]': z.union([z.literal('segment'), z.array(z.literal('segment'))]).optional(),
});

/** OpenAI's translation API takes no language: the spoken one is detected, the text is English. */
export const translationOptions = transcriptionOptions.omit({ language: true, 'timestamp_granularities[]': true });

export type SpeechTask = 'transcribe' | 'translate';

export interface Transcription {
  /** What OpenAI's response_format asks for: JSON, or plain text. */
  body: object | string;
  /** Notes about options the server did not use. */
  notes: string[];
  /** The language of the speech: as asked, as detected, or English for a model with no language tokens. */
  language: string;
}

/** OpenAI's transcription API over Whisper-layout models served by Transformers.js pipeline workers. */
@Injectable()
export class TranscriptionService {
  constructor(
    private readonly tasks: TaskModels,
    private readonly decoder: AudioDecoder,
  ) {}

  /**
   * `transcribe`: the text in the language spoken (given, or detected when not given); `translate`:
   * English text, the spoken language detected.
   */
  async transcribe(media: MediaRequest, trace: TaskTrace, task: SpeechTask = 'transcribe'): Promise<Transcription> {
    if (media.items.length !== 1) throw new AppError(ErrorCode.ValidationFailed, `send one audio file (got ${media.items.length})`);
    const o: { language?: string } & z.infer<typeof translationOptions> =
      task === 'transcribe' ? parseOptions(transcriptionOptions, media.options) : parseOptions(translationOptions, media.options);
    const model = await this.tasks.get(o.model, tasksFor('transcriptions'), trace);
    if (model.manifest.runtime !== 'transformers') {
      throw new AppError(
        ErrorCode.ModelLoadFailed,
        `model "${o.model}" is not served by a Transformers.js pipeline (manifest "runtime": "transformers")`,
      );
    }
    const audio = await trace.decoding(this.decoder.decode(media.items[0]!.bytes, SAMPLE_RATE));
    const verbose = o.response_format === 'verbose_json';
    const call = {
      return_timestamps: verbose,
      chunk_length_s: audio.durationSeconds > CHUNK_SECONDS ? CHUNK_SECONDS : 0,
      stride_length_s: STRIDE_SECONDS,
      // Without a language the worker detects it (Transformers.js alone would prompt Whisper with English).
      ...(o.language ? { language: o.language, task } : { detect_language: true, ...(task === 'translate' ? { task } : {}) }),
      ...(o.temperature > 0 ? { do_sample: true, temperature: o.temperature } : {}),
    };
    const result = await model.runner.pipeline(audio.samples, call);
    trace.queueMs += result.queueMs;
    trace.inferenceMs += result.inferenceMs;
    const output = transcriptionOutput.parse(result.output);
    const text = output.text.trim();
    const notes = o.prompt !== undefined ? ['prompt is not used: this server does not condition Whisper on a prompt'] : [];
    // A model without language tokens (English-only Whisper, CTC models) hears English.
    const language = o.language ?? output.language ?? 'en';
    if (o.response_format === 'text') return { body: `${text}\n`, notes, language };
    if (!verbose) return { body: { text }, notes, language };
    const segments = (output.chunks ?? []).map((chunk, id) => ({
      id,
      start: chunk.timestamp[0],
      end: chunk.timestamp[1] ?? audio.durationSeconds,
      text: chunk.text,
      temperature: o.temperature,
    }));
    return { body: { task, language, duration: audio.durationSeconds, text, segments }, notes, language };
  }
}

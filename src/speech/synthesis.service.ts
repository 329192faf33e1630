import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { validate, wellFormedText } from '../common/http/validate-body.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { tasksFor } from '../contracts/task-table.js';
import { Limiter } from '../tasks/limiter.js';
import { type TaskModel, TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import { AudioEncoder, contentTypeOf, SPEECH_FORMATS } from './audio-encode.js';
import { sentenceChunks } from './sentences.js';
import { synthesisOutput, type SynthesisOutput } from './speech-pipeline.js';

/** The longest piece of text one synthesis call speaks: a longer sentence is cut at a space. */
export const MAX_CHUNK_CHARS = 400;
/** A model's voices when its manifest names none: a single-speaker model has one. */
export const DEFAULT_VOICES = ['default'];

/** OpenAI's `POST /v1/audio/speech` body; `maxChars` is LATHE_SPEECH_MAX_INPUT_CHARS. */
export function speechRequestSchema(maxChars: number) {
  return z.strictObject({
    model: z.string().min(1).max(256).meta({ example: 'mms-tts-eng' }),
    input: wellFormedText
      .min(1, 'input must not be empty')
      .max(maxChars, `input may have at most ${maxChars} characters (LATHE_SPEECH_MAX_INPUT_CHARS)`)
      .meta({ example: 'Hello from Lathe.' }),
    voice: z.string().min(1).max(64).meta({ example: 'default' }),
    response_format: z.enum(SPEECH_FORMATS).default('mp3'),
    speed: z.number().min(0.25, 'speed must be at least 0.25').max(4, 'speed must be at most 4').default(1),
    // OpenAI's newer fields: `instructions` steers models that take a prompt (VITS does not; the answer says so).
    instructions: wellFormedText.max(4096).optional(),
    stream_format: z
      .literal('audio', { error: "stream_format: only 'audio' is served (the bytes of the file as they are encoded)" })
      .optional(),
  });
}
export type SpeechRequest = z.infer<ReturnType<typeof speechRequestSchema>>;

/** The voices a synthesis model answers to: its manifest's `parameters.voices`, else DEFAULT_VOICES. */
export function voicesOf(model: Pick<TaskModel, 'manifest'>): string[] {
  const voices = model.manifest.parameters.voices;
  return Array.isArray(voices) && voices.length > 0 && voices.every((v) => typeof v === 'string') ? voices : DEFAULT_VOICES;
}

/**
 * OpenAI's speech API over VITS-layout models served by Transformers.js pipeline workers: the
 * input is cut into sentences, each spoken by one worker call, and the samples go to an ffmpeg
 * encoder as they come, whose output is the answer's body. The first sentence is spoken before
 * the status line, so a request that cannot be served still gets its status.
 */
@Injectable()
export class SynthesisService {
  private readonly encoders: Limiter;
  private readonly schema: ReturnType<typeof speechRequestSchema>;

  constructor(
    private readonly tasks: TaskModels,
    @InjectConfig() config: AppConfig,
  ) {
    this.encoders = new Limiter('speech synthesis', config.media.audioEncoders, config.media.audioEncoders);
    this.schema = speechRequestSchema(config.media.speechMaxInputChars);
  }

  async speak(body: unknown, reply: FastifyReply, trace: TaskTrace): Promise<void> {
    const request = validate(this.schema, body);
    const model = await this.tasks.get(request.model, tasksFor('speech'), trace);
    if (model.manifest.runtime !== 'transformers') {
      throw new AppError(
        ErrorCode.ModelLoadFailed,
        `model "${request.model}" is not served by a Transformers.js pipeline (manifest "runtime": "transformers")`,
      );
    }
    const voices = voicesOf(model);
    if (!voices.includes(request.voice)) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `model "${request.model}" has no voice "${request.voice}"; its voices: ${voices.join(', ')}`,
        [{ field: 'voice', problems: [`one of ${voices.join(', ')}`] }],
      );
    }
    const chunks = sentenceChunks(request.input, MAX_CHUNK_CHARS);
    await this.encoders.run(() => this.stream(model, request, chunks, reply, trace));
  }

  private async stream(model: TaskModel, request: SpeechRequest, chunks: string[], reply: FastifyReply, trace: TaskTrace) {
    const say = async (text: string): Promise<SynthesisOutput> => {
      const result = await model.runner.pipeline(text, {});
      trace.queueMs += result.queueMs;
      trace.inferenceMs += result.inferenceMs;
      return synthesisOutput.parse(result.output);
    };
    // Sentences with nothing the model can say (no character of its alphabet) are skipped; the first
    // one it can say is spoken before the status line.
    let next = 0;
    let first: SynthesisOutput | undefined;
    while (next < chunks.length && !first) {
      const spoken = await say(chunks[next++]!);
      if (spoken.tokens > 0) first = spoken;
    }
    if (!first) {
      throw new AppError(
        ErrorCode.ValidationFailed,
        `model "${request.model}" can say nothing of this input: none of its characters is in the model's alphabet`,
        [{ field: 'input', problems: ["no character in the model's alphabet"] }],
      );
    }
    const encoder = new AudioEncoder(request.response_format, first.samplingRate, request.speed);
    let gone = false;
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) {
        gone = true;
        encoder.abort();
      }
    });
    reply.headers(trace.headers()).type(contentTypeOf(request.response_format));
    if (request.instructions !== undefined) reply.header('x-lathe-notice', 'instructions are not used: this model takes no prompt');
    void reply.send(encoder.output);
    try {
      await encoder.write(first.audio);
      while (next < chunks.length && !gone) {
        const spoken = await say(chunks[next++]!);
        if (spoken.tokens > 0) await encoder.write(spoken.audio);
      }
      encoder.end();
      await encoder.done;
    } catch (err) {
      // The status line is gone: the client sees the body end early.
      encoder.abort();
      reply.raw.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type MediaRequest, mediaOptions, opt, parseOptions } from '../tasks/media-input.js';
import { type LabelScore, type ScoreFunction, toScores, topK } from '../tasks/scores.js';
import { type TaskModel, TaskModels, type TaskTrace } from '../tasks/task-models.service.js';
import type { DecodedAudio } from './audio-decode.js';
import { AudioDecoder } from './audio-decoder.service.js';
import { keywordFeatures, keywordWindows, KWS_WINDOW_SAMPLES } from './mfcc.js';
import { type SpeechSegment, speechSegments, VAD_DEFAULTS } from './vad.js';
import { checkModelInputs } from '../tasks/input-count.js';
import { defaultModelFor, tasksFor } from '../contracts/task-table.js';

export const vadOptions = mediaOptions({
  model: opt.model().default(defaultModelFor('speechVad')),
  threshold: opt.number(0.01, 0.99).default(VAD_DEFAULTS.threshold),
  neg_threshold: opt.number(0.01, 0.99).optional(),
  min_speech_duration_ms: opt.int(0, 600_000).default(VAD_DEFAULTS.minSpeechDurationMs),
  min_silence_duration_ms: opt.int(0, 600_000).default(VAD_DEFAULTS.minSilenceDurationMs),
  speech_pad_ms: opt.int(0, 60_000).default(VAD_DEFAULTS.speechPadMs),
  max_speech_duration_s: opt.number(0.1, 86_400).optional(),
  return_probabilities: opt.bool().default(false),
});

export const keywordOptions = mediaOptions({
  model: opt.model().default(defaultModelFor('speechKeywords')),
});

const audioParameters = z.object({
  sampleRate: z.number().int().min(1000).max(384_000).default(16_000),
  scores: z.enum(['softmax', 'sigmoid', 'none']).default('softmax'),
});

export interface VadReply {
  model: string;
  version: string;
  /** Seconds of audio analysed. */
  duration: number;
  sampling_rate: number;
  segments: SpeechSegment[];
  /** Per window of `window_seconds`, when asked for. */
  probabilities?: number[];
  window_seconds?: number;
}

export interface KeywordReply {
  model: string;
  version: string;
  duration: number;
  windows: Array<{ start: number; end: number; scores: LabelScore[] }>;
}

/** Voice activity detection (Silero VAD, scanned in the worker) and keyword spotting (MFCC + DS-CNN). */
@Injectable()
export class SpeechService {
  constructor(
    private readonly tasks: TaskModels,
    private readonly decoder: AudioDecoder,
  ) {}

  async vad(media: MediaRequest, trace: TaskTrace): Promise<VadReply[]> {
    const o = parseOptions(vadOptions, media.options);
    const model = await this.tasks.get(o.model, tasksFor('speechVad'), trace);
    const stream = model.manifest.stream;
    if (!stream) throw new AppError(ErrorCode.ModelLoadFailed, `model "${o.model}" has no "stream" (how to scan a signal) in its manifest`);
    const { sampleRate } = audioParameters.parse(model.manifest.parameters);
    this.decoder.checkCount(media.items.length);
    checkModelInputs(model, media.items.length, 'audio files');
    return Promise.all(
      media.items.map(async (item) => {
        const audio = await this.decode(item.bytes, sampleRate, trace, media.batch ? item.source : undefined);
        const totalSamples = audio.samples.length;
        // The samples are not needed here again: hand their buffer to the worker instead of copying it.
        const scan = await model.runner.scan(stream, audio.samples, { transfer: true });
        trace.queueMs += scan.queueMs;
        trace.inferenceMs += scan.inferenceMs;
        const probs = scan.values;
        const segments = speechSegments(probs, {
          threshold: o.threshold,
          negThreshold: o.neg_threshold,
          minSpeechDurationMs: o.min_speech_duration_ms,
          minSilenceDurationMs: o.min_silence_duration_ms,
          speechPadMs: o.speech_pad_ms,
          maxSpeechDurationS: o.max_speech_duration_s ?? Infinity,
          sampleRate,
          windowSamples: stream.windowSize,
          totalSamples,
        });
        return {
          model: model.name,
          version: model.version,
          duration: audio.durationSeconds,
          sampling_rate: sampleRate,
          segments,
          ...(o.return_probabilities ? { probabilities: Array.from(probs), window_seconds: stream.windowSize / sampleRate } : {}),
        };
      }),
    );
  }

  async keywords(media: MediaRequest, trace: TaskTrace): Promise<KeywordReply[]> {
    const o = parseOptions(keywordOptions, media.options);
    const model = await this.tasks.get(o.model, tasksFor('speechKeywords'), trace);
    const { sampleRate, scores } = audioParameters.parse(model.manifest.parameters);
    this.decoder.checkCount(media.items.length);
    return Promise.all(
      media.items.map(async (item) => {
        const audio = await this.decode(item.bytes, sampleRate, trace, media.batch ? item.source : undefined);
        const windows = keywordWindows(audio.samples);
        // One run per one-second window: a longer recording could never be queued whole.
        checkModelInputs(model, windows.length, `one-second windows (${item.source})`);
        const seconds = KWS_WINDOW_SAMPLES / sampleRate;
        const results = await Promise.all(windows.map((w) => this.spot(model, keywordFeatures(w), scores as ScoreFunction, trace)));
        return {
          model: model.name,
          version: model.version,
          duration: audio.durationSeconds,
          windows: results.map((s, i) => ({ start: i * seconds, end: Math.min((i + 1) * seconds, audio.durationSeconds), scores: s })),
        };
      }),
    );
  }

  private async spot(model: TaskModel, features: Float32Array, scores: ScoreFunction, trace: TaskTrace): Promise<LabelScore[]> {
    const input = model.manifest.inputs[0]!;
    const output = model.manifest.outputs[0]!.name;
    const shape = model.manifest.maxBatchSize > 0 ? [1, ...input.shape] : input.shape;
    const result = await this.tasks.run(model, { [input.name]: { datatype: 'FP32', shape, data: features } }, [output], trace);
    const logits = result[output]!.data as Float32Array;
    return topK(toScores(logits, scores), model.labels, logits.length);
  }

  /** In a batch, an error names the recording it is about. */
  private decode(bytes: Buffer, sampleRate: number, trace: TaskTrace, label: string | undefined): Promise<DecodedAudio> {
    return trace.decoding(this.decoder.decode(bytes, sampleRate)).catch((err: unknown) => {
      if (err instanceof AppError && label) throw err.about(label);
      throw err;
    });
  }
}

import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { describeNonAudio, sniffAudioFormat } from './audio-format.js';
import { decodeWithFfmpeg } from './ffmpeg-decode.js';
import { resample } from './resample.js';
import { decodeWavMono, isWav, parseWavHeader, type WavInfo } from './wav.js';
import type { WavDecodeJob } from './wav-decode.worker.js';

export interface DecodedAudio {
  /** Mono, in [-1, 1], at the requested rate. */
  samples: Float32Array;
  sampleRate: number;
  durationSeconds: number;
  /** 'wav' | 'mp3' | 'ogg' | 'flac' | 'm4a' | 'webm' | 'aac' | ... (see sniffAudioFormat). */
  format: string;
}

export interface AudioLimits {
  maxSeconds: number;
  /** The largest encoded body accepted. */
  maxBytes: number;
  /** How long ffmpeg may take (default 30 s); WAV is decoded here, without it. */
  timeoutMs?: number;
}

export interface DecodeOptions {
  /**
   * Let a long WAV's body move to the decoding thread instead of being copied there (hundreds of
   * ms for 100 MB): `bytes` is detached (empty) afterwards. Only when bytes owns its whole buffer.
   */
  transferBody?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Samples (frames × channels) beyond which a WAV is decoded in a worker thread: about 5 s of 44.1 kHz stereo, 30 ms of CPU. */
const OFF_THREAD_SAMPLES = 500_000;
const WAV_WORKER_URL = new URL('./wav-decode.worker.js', import.meta.url);

/**
 * Any audio body to mono float32 at `targetRate`. PCM and float WAV are decoded here (header
 * checked before anything is allocated); every other format goes through ffmpeg. Throws
 * AppError: EMPTY_BODY, PAYLOAD_TOO_LARGE, MEDIA_INVALID (not audio, corrupt, impossible header)
 * or AUDIO_TOO_LONG.
 */
export async function decodeAudio(
  bytes: Uint8Array,
  targetRate: number,
  limits: AudioLimits,
  options: DecodeOptions = {},
): Promise<DecodedAudio> {
  if (bytes.length === 0) throw new AppError(ErrorCode.EmptyBody, 'the audio body is empty');
  if (bytes.length > limits.maxBytes) {
    throw new AppError(ErrorCode.PayloadTooLarge, `the audio is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  }
  const format = sniffAudioFormat(bytes);
  if (!format) throw new AppError(ErrorCode.MediaInvalid, `the body is not a recognised audio format: ${describeNonAudio(bytes)}`);
  const ffmpegLimits = { maxSeconds: limits.maxSeconds, timeoutMs: limits.timeoutMs ?? DEFAULT_TIMEOUT_MS };
  let samples: Float32Array;
  if (isWav(bytes)) {
    const info = parseWavHeader(bytes);
    const seconds = info.frames / info.sampleRate;
    if (seconds > limits.maxSeconds) {
      throw new AppError(ErrorCode.AudioTooLong, `the audio is ${seconds.toFixed(1)} s long; the limit is ${limits.maxSeconds} s`);
    }
    samples =
      info.encoding === 'other'
        ? await decodeWithFfmpeg(bytes, targetRate, `wav (format 0x${info.formatTag.toString(16)})`, ffmpegLimits)
        : await decodePcm(bytes, info, targetRate, options.transferBody === true);
  } else {
    samples = await decodeWithFfmpeg(bytes, targetRate, format, ffmpegLimits);
  }
  return { samples, sampleRate: targetRate, durationSeconds: samples.length / targetRate, format };
}

/** Short WAVs here; long ones in a worker thread, so the event loop keeps answering meanwhile. */
function decodePcm(bytes: Uint8Array, info: WavInfo, targetRate: number, transfer: boolean): Promise<Float32Array> | Float32Array {
  if (info.frames * info.channels <= OFF_THREAD_SAMPLES) return resample(decodeWavMono(bytes, info), info.sampleRate, targetRate);
  const job: WavDecodeJob = { bytes, info, targetRate };
  const owned = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const transferList = transfer && owned ? [bytes.buffer as ArrayBuffer] : [];
  return new Promise((resolve, reject) => {
    const worker = new Worker(WAV_WORKER_URL, { workerData: job, transferList });
    worker.once('message', (samples: Float32Array) => resolve(samples));
    worker.once('error', (err) => reject(new AppError(ErrorCode.Internal, `WAV decoding failed: ${err.message}`)));
    worker.once('exit', (code) => reject(new AppError(ErrorCode.Internal, `the WAV decoding thread exited with code ${code}`)));
  });
}

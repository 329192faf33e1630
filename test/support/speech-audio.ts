/**
 * Real speech for tests, made offline with Debian's espeak-ng, with known speech boundaries.
 *
 * Truth: espeak-ng pads its output with its own silence (about 10 ms before, 300 ms after), so each
 * utterance is trimmed by energy first: 10 ms frames, and the speech runs from the first to the
 * last frame whose RMS is within 40 dB of the loudest frame's. Pauses inside the utterance stay.
 * The scene then places utterances between silences of given lengths, so every boundary is known
 * to the sample, and adds seeded white noise at a stated SNR (speech power over noise power,
 * speech power measured over the utterances only).
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ffmpeg from '@ffmpeg-installer/ffmpeg';
import { resample } from '../../src/speech/resample.js';
import { decodeWavMono, parseWavHeader } from '../../src/speech/wav.js';
import { random } from './models.js';
import { makeTempDir } from './processes.js';

const run = promisify(execFile);
export const ESPEAK = '/usr/bin/espeak-ng';
export const RATE = 16_000;
const TRIM_FRAME_SECONDS = 0.01;
const TRIM_BELOW_PEAK_DB = 40;
/** Utterances are scaled to this peak so that noise added on top rarely clips. */
const SPEECH_PEAK = 0.5;

/** espeak-ng's voice saying `text`, at 16 kHz (resampled from its 22.05 kHz), untrimmed. */
export async function synthesize(text: string, options: { voice?: string; wordsPerMinute?: number } = {}): Promise<Float32Array> {
  const dir = await makeTempDir('lathe-espeak-');
  try {
    const file = join(dir, 'speech.wav');
    await run(ESPEAK, ['-v', options.voice ?? 'en', '-s', String(options.wordsPerMinute ?? 160), '-w', file, text]);
    const bytes = new Uint8Array(await readFile(file));
    const info = parseWavHeader(bytes);
    return resample(decodeWavMono(bytes, info), info.sampleRate, RATE);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The utterance without espeak's leading and trailing silence (see the file comment). */
export function trimToVoice(samples: Float32Array, rate = RATE): Float32Array {
  const frame = Math.round(rate * TRIM_FRAME_SECONDS);
  const rms: number[] = [];
  for (let start = 0; start + frame <= samples.length; start += frame) rms.push(rootMeanSquare(samples.subarray(start, start + frame)));
  const floor = Math.max(...rms) * 10 ** (-TRIM_BELOW_PEAK_DB / 20);
  const first = rms.findIndex((r) => r > floor);
  const last = rms.length - 1 - [...rms].reverse().findIndex((r) => r > floor);
  return samples.slice(first * frame, (last + 1) * frame);
}

export interface Scene {
  samples: Float32Array;
  rate: number;
  /** Where each utterance is, in seconds. */
  truth: Array<{ start: number; end: number }>;
}

/**
 * Silences (numbers, in seconds) and utterances (strings) in order, e.g.
 * [1.5, 'first sentence', 2, 'second sentence', 1], with white noise at `snrDb` when given.
 */
export async function speechScene(layout: Array<number | string>, options: { snrDb?: number; seed?: number } = {}): Promise<Scene> {
  const parts: Float32Array[] = [];
  const truth: Scene['truth'] = [];
  let at = 0;
  for (const item of layout) {
    const part =
      typeof item === 'number' ? new Float32Array(Math.round(item * RATE)) : scaleToPeak(trimToVoice(await synthesize(item)), SPEECH_PEAK);
    if (typeof item === 'string') truth.push({ start: at / RATE, end: (at + part.length) / RATE });
    parts.push(part);
    at += part.length;
  }
  const samples = new Float32Array(at);
  let offset = 0;
  for (const p of parts) {
    samples.set(p, offset);
    offset += p.length;
  }
  if (options.snrDb !== undefined) {
    const speech = truth.map((t) => samples.subarray(Math.round(t.start * RATE), Math.round(t.end * RATE)));
    const speechPower = speech.reduce((sum, s) => sum + power(s) * s.length, 0) / speech.reduce((n, s) => n + s.length, 0);
    addWhiteNoise(samples, Math.sqrt(speechPower / 10 ** (options.snrDb / 10)), options.seed ?? 1);
  }
  return { samples, rate: RATE, truth };
}

/** Gaussian white noise of the given RMS (Box-Muller over a seeded PRNG), added in place and clipped. */
export function addWhiteNoise(samples: Float32Array, rms: number, seed: number): Float32Array {
  const rand = random(seed);
  for (let i = 0; i < samples.length; i += 1) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    samples[i] = Math.max(-1, Math.min(1, samples[i]! + g * rms));
  }
  return samples;
}

export interface WavOptions {
  bits?: 8 | 16 | 24 | 32 | 64;
  float?: boolean;
  /** Every channel gets the signal times its gain; default one channel. */
  channelGains?: number[];
  rate?: number;
}

/** A RIFF/WAVE file of the signal in any of the layouts the decoder accepts. */
export function wavFile(samples: Float32Array, options: WavOptions = {}): Uint8Array {
  const bits = options.bits ?? 16;
  const gains = options.channelGains ?? [1];
  const bytesPer = bits / 8;
  const dataBytes = samples.length * gains.length * bytesPer;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const text = (at: number, s: string) => [...s].forEach((c, i) => (out[at + i] = c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVEfmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, options.float ? 3 : 1, true);
  view.setUint16(22, gains.length, true);
  view.setUint32(24, options.rate ?? RATE, true);
  view.setUint32(28, (options.rate ?? RATE) * gains.length * bytesPer, true);
  view.setUint16(32, gains.length * bytesPer, true);
  view.setUint16(34, bits, true);
  text(36, 'data');
  view.setUint32(40, dataBytes, true);
  let at = 44;
  for (const s of samples) {
    for (const gain of gains) {
      writeSample(view, at, s * gain, bits, options.float === true);
      at += bytesPer;
    }
  }
  return out;
}

function writeSample(view: DataView, at: number, v: number, bits: number, float: boolean): void {
  const c = Math.max(-1, Math.min(1, v));
  if (float) return bits === 64 ? view.setFloat64(at, c, true) : view.setFloat32(at, c, true);
  if (bits === 8) return view.setUint8(at, Math.max(0, Math.min(255, Math.round(c * 128 + 128))));
  if (bits === 16) return view.setInt16(at, Math.max(-32768, Math.min(32767, Math.round(c * 32768))), true);
  if (bits === 24) {
    const i = Math.max(-8388608, Math.min(8388607, Math.round(c * 8388608)));
    view.setUint8(at, i & 0xff);
    view.setUint8(at + 1, (i >> 8) & 0xff);
    return view.setInt8(at + 2, i >> 16);
  }
  return view.setInt32(at, Math.max(-2147483648, Math.min(2147483647, Math.round(c * 2147483648))), true);
}

/** Encodes a WAV with the installed ffmpeg, e.g. ['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3']. */
export async function encodeWithFfmpeg(wav: Uint8Array, args: string[]): Promise<Uint8Array> {
  const dir = await makeTempDir('lathe-encode-');
  try {
    const input = join(dir, 'in.wav');
    const output = join(dir, 'out.bin');
    await writeFile(input, wav);
    await run(ffmpeg.path, ['-hide_banner', '-v', 'error', '-y', '-i', input, ...args, output]);
    return new Uint8Array(await readFile(output));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function rootMeanSquare(x: Float32Array): number {
  return Math.sqrt(power(x));
}

function power(x: Float32Array): number {
  let sum = 0;
  for (const v of x) sum += v * v;
  return x.length > 0 ? sum / x.length : 0;
}

function scaleToPeak(x: Float32Array, peak: number): Float32Array {
  let max = 0;
  for (const v of x) max = Math.max(max, Math.abs(v));
  return max > 0 ? x.map((v) => (v * peak) / max) : x;
}

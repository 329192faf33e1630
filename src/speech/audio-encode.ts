import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import ffmpeg from '@ffmpeg-installer/ffmpeg';

/** OpenAI's `response_format`s of `/v1/audio/speech`. */
export const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

/** The rate every format is written at, as OpenAI's speech API does (its `pcm` is 24 kHz by definition). */
export const OUTPUT_RATE = 24_000;

/** Each format's ffmpeg codec and muxer, and the Content-Type it is answered with. */
const FORMATS: Record<SpeechFormat, { args: string[]; contentType: string }> = {
  mp3: { args: ['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3'], contentType: 'audio/mpeg' },
  // Ogg Opus, as OpenAI's `opus` is.
  opus: { args: ['-c:a', 'libopus', '-b:a', '32k', '-f', 'ogg'], contentType: 'audio/ogg' },
  // Raw ADTS frames: a stream needs no container index.
  aac: { args: ['-c:a', 'aac', '-b:a', '64k', '-f', 'adts'], contentType: 'audio/aac' },
  flac: { args: ['-c:a', 'flac', '-f', 'flac'], contentType: 'audio/flac' },
  wav: { args: ['-c:a', 'pcm_s16le', '-f', 'wav'], contentType: 'audio/wav' },
  pcm: { args: ['-c:a', 'pcm_s16le', '-f', 's16le'], contentType: 'audio/pcm' },
};

export function contentTypeOf(format: SpeechFormat): string {
  return FORMATS[format].contentType;
}

/**
 * ffmpeg's `atempo` for a speed factor: one filter takes 0.5 to 2, so 0.25 and 4 are two in a row.
 * It changes the duration and keeps the pitch.
 */
export function tempoFilter(speed: number): string | undefined {
  if (speed === 1) return undefined;
  const stages: number[] = [];
  let rest = speed;
  while (rest > 2) {
    stages.push(2);
    rest /= 2;
  }
  while (rest < 0.5) {
    stages.push(0.5);
    rest /= 0.5;
  }
  stages.push(rest);
  return stages.map((s) => `atempo=${s}`).join(',');
}

const STDERR_KEEP = 4000;

/**
 * One ffmpeg process encoding mono float32 samples at `inputRate` into `format` at OUTPUT_RATE,
 * `speed` times as fast: samples are written as they are synthesized and the encoded bytes stream
 * out of `output` as ffmpeg produces them. `abort()` kills it (the client went away).
 */
export class AudioEncoder {
  readonly output: Readable;
  /** Resolves when ffmpeg has exited; rejects with its last error lines if it failed. */
  readonly done: Promise<void>;
  private readonly child: ChildProcessWithoutNullStreams;
  private aborted = false;

  constructor(format: SpeechFormat, inputRate: number, speed: number) {
    const tempo = tempoFilter(speed);
    const args = [
      '-hide_banner',
      '-nostats',
      '-v',
      'error',
      '-f',
      'f32le',
      '-ar',
      String(inputRate),
      '-ac',
      '1',
      '-i',
      'pipe:0',
      ...(tempo ? ['-filter:a', tempo] : []),
      '-ar',
      String(OUTPUT_RATE),
      '-ac',
      '1',
      ...FORMATS[format].args,
      'pipe:1',
    ];
    this.child = spawn(ffmpeg.path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.output = this.child.stdout;
    let stderr = '';
    this.child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += chunk.toString('utf8');
    });
    // ffmpeg killed or exiting early closes its stdin under us: reported by `done`, not as an error here.
    this.child.stdin.on('error', () => undefined);
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', (err) => reject(new Error(`cannot run ffmpeg: ${err.message}`)));
      this.child.on('close', (code) => {
        if (code === 0 || this.aborted) resolve();
        else reject(new Error(`ffmpeg could not encode the audio: ${stderr.trim().split('\n').slice(-2).join('; ').slice(0, 300)}`));
      });
    });
    // A failure is also seen by whoever awaits `done`; this keeps it from being unhandled meanwhile.
    this.done.catch(() => undefined);
  }

  /** Queues samples for the encoder; resolves once ffmpeg has taken them (its pipe drained). */
  write(samples: Float32Array): Promise<void> {
    const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    if (this.child.stdin.write(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      const settle = () => {
        this.child.stdin.off('drain', settle);
        this.child.stdin.off('close', settle);
        resolve();
      };
      this.child.stdin.on('drain', settle);
      this.child.stdin.on('close', settle);
    });
  }

  /** No more samples: ffmpeg flushes and exits. */
  end(): void {
    this.child.stdin.end();
  }

  abort(): void {
    this.aborted = true;
    this.child.kill('SIGKILL');
  }
}

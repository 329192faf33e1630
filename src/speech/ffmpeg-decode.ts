import { spawn } from 'node:child_process';
import ffmpeg from '@ffmpeg-installer/ffmpeg';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

export interface FfmpegLimits {
  maxSeconds: number;
  timeoutMs: number;
}

/** Codec padding (MP3 and AAC frames, Opus pre-skip) can add a few ms to an exact-length file. */
const LENGTH_SLACK_SECONDS = 0.05;
const STDERR_KEEP = 4000;

/**
 * Decodes any container and codec ffmpeg knows into mono float32 at `rate`: bytes in on stdin,
 * raw samples out on stdout. ffmpeg stops itself a little past the limit (-t) and is killed if
 * its output passes it anyway or it runs past the timeout.
 */
export function decodeWithFfmpeg(bytes: Uint8Array, rate: number, format: string, limits: FfmpegLimits): Promise<Float32Array> {
  const maxSamples = Math.floor((limits.maxSeconds + LENGTH_SLACK_SECONDS) * rate);
  const args = [
    '-hide_banner',
    '-nostats',
    '-v',
    'error',
    '-i',
    'pipe:0',
    '-t',
    String(limits.maxSeconds + 1),
    '-vn',
    '-f',
    'f32le',
    '-ac',
    '1',
    '-ar',
    String(rate),
    'pipe:1',
  ];
  const child = spawn(ffmpeg.path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let failure: AppError | undefined;
    const stop = (err: AppError) => {
      failure ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => stop(new AppError(ErrorCode.DeadlineExceeded, `decoding the ${format} audio took longer than ${limits.timeoutMs} ms`)),
      limits.timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxSamples * 4) {
        stop(new AppError(ErrorCode.AudioTooLong, `the audio is longer than the limit of ${limits.maxSeconds} s`));
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += chunk.toString('utf8');
    });
    // ffmpeg closes stdin when it stops early (-t, or a corrupt file): not an error in itself.
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => stop(new AppError(ErrorCode.Unavailable, `cannot run ffmpeg: ${err.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (code !== 0) return reject(new AppError(ErrorCode.MediaInvalid, `could not decode the ${format} audio: ${lastLines(stderr)}`));
      const samples = toFloats(chunks, outBytes);
      if (samples.length === 0) return reject(new AppError(ErrorCode.MediaInvalid, `the ${format} file holds no audio samples`));
      resolve(samples);
    });
    child.stdin.end(bytes);
  });
}

function toFloats(chunks: Buffer[], total: number): Float32Array {
  const usable = total - (total % 4);
  const out = new Float32Array(usable / 4);
  const bytes = new Uint8Array(out.buffer);
  let offset = 0;
  for (const c of chunks) {
    const n = Math.min(c.length, usable - offset);
    bytes.set(c.subarray(0, n), offset);
    offset += n;
  }
  // Lossy decoders overshoot full scale a little; the contract is [-1, 1].
  for (let i = 0; i < out.length; i += 1) {
    const v = out[i]!;
    if (v > 1) out[i] = 1;
    else if (v < -1) out[i] = -1;
    else if (v !== v) out[i] = 0;
  }
  return out;
}

/** ffmpeg's last error lines name the problem ("Invalid data found when processing input"). */
function lastLines(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim().replace(/^pipe:0: /, ''))
    .filter(Boolean);
  return lines.slice(-2).join('; ').slice(0, 300) || 'ffmpeg gave no reason';
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';

/** What a RIFF/WAVE header says, checked before any sample is read or allocated. */
export interface WavInfo {
  /** pcm and float are decoded here; any other codec (ADPCM, A-law, ...) goes to ffmpeg. */
  encoding: 'pcm' | 'float' | 'other';
  formatTag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
  dataOffset: number;
  dataBytes: number;
  /** Whole sample frames in the data chunk (a trailing partial frame is ignored). */
  frames: number;
}

export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384_000;
const MAX_CHANNELS = 64;
const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
/** ffmpeg and other streaming writers leave this in the size fields: "up to the end of the file". */
const STREAMING_SIZE = 0xffffffff;

const invalid = (message: string) => new AppError(ErrorCode.MediaInvalid, message);

export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WAVE';
}

/** Walks the RIFF chunks for `fmt ` and `data` and validates them; throws MEDIA_INVALID with the reason. */
export function parseWavHeader(bytes: Uint8Array): WavInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'frames'> | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.length)
        throw invalid(`WAV fmt chunk is ${size} bytes (${bytes.length - body} present); it needs at least 16`);
      fmt = readFmt(view, body, size);
    } else if (id === 'data') {
      if (!fmt) throw invalid('WAV data chunk comes before the fmt chunk');
      const available = bytes.length - body;
      if (size > available && size !== STREAMING_SIZE) {
        throw invalid(`WAV data chunk says ${size} bytes but only ${available} follow (truncated file)`);
      }
      const dataBytes = Math.min(size, available);
      const frames = Math.floor(dataBytes / fmt.blockAlign);
      if (frames === 0) throw invalid('WAV data chunk holds no samples');
      return { ...fmt, dataOffset: body, dataBytes, frames };
    }
    // Chunks are padded to an even size.
    offset = body + size + (size % 2);
  }
  throw invalid(fmt ? 'WAV file has no data chunk' : 'WAV file has no fmt chunk');
}

function readFmt(view: DataView, at: number, size: number): Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'frames'> {
  let formatTag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (formatTag === FORMAT_EXTENSIBLE && size >= 40) formatTag = view.getUint16(at + 24, true);
  if (channels === 0) throw invalid('WAV header says 0 channels');
  if (channels > MAX_CHANNELS) throw invalid(`WAV header says ${channels} channels (at most ${MAX_CHANNELS} are accepted)`);
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw invalid(`WAV header says a sample rate of ${sampleRate} Hz (accepted: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE})`);
  }
  if (blockAlign === 0) throw invalid('WAV header says a block align of 0 bytes');
  const encoding = formatTag === FORMAT_PCM ? 'pcm' : formatTag === FORMAT_FLOAT ? 'float' : 'other';
  if (encoding !== 'other') {
    const valid = encoding === 'pcm' ? [8, 16, 24, 32] : [32, 64];
    if (!valid.includes(bitsPerSample))
      throw invalid(
        `WAV ${encoding === 'pcm' ? 'PCM' : 'float'} with ${bitsPerSample} bits per sample is not supported (${valid.join(', ')} are)`,
      );
    if (blockAlign !== channels * (bitsPerSample / 8)) {
      throw invalid(
        `WAV header says a block align of ${blockAlign} bytes; ${channels} channel(s) of ${bitsPerSample} bits need ${channels * (bitsPerSample / 8)}`,
      );
    }
  }
  return { encoding, formatTag, channels, sampleRate, bitsPerSample, blockAlign };
}

/** PCM or float samples averaged over the channels into one array in [-1, 1]. */
export function decodeWavMono(bytes: Uint8Array, info: WavInfo): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = sampleReader(view, info);
  const { frames, channels, blockAlign, dataOffset } = info;
  const step = info.bitsPerSample / 8;
  const out = new Float32Array(frames);
  const scale = 1 / channels;
  for (let f = 0; f < frames; f += 1) {
    const at = dataOffset + f * blockAlign;
    let sum = 0;
    for (let c = 0; c < channels; c += 1) sum += read(at + c * step);
    const v = sum * scale;
    // Float WAVs may overshoot, or hold NaN; the contract is [-1, 1].
    out[f] = v > 1 ? 1 : v < -1 ? -1 : v === v ? v : 0;
  }
  return out;
}

function sampleReader(view: DataView, info: WavInfo): (at: number) => number {
  if (info.encoding === 'float') {
    return info.bitsPerSample === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  }
  switch (info.bitsPerSample) {
    case 8:
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => (view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608;
    default:
      return (at) => view.getInt32(at, true) / 2147483648;
  }
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { encodeWithFfmpeg, rootMeanSquare, synthesize, trimToVoice, wavFile } from '../../test/support/speech-audio.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type AudioLimits, decodeAudio } from './audio-decode.js';
import { resample } from './resample.js';
import { decodeWavMono, parseWavHeader } from './wav.js';

const LIMITS: AudioLimits = { maxSeconds: 60, maxBytes: 50_000_000 };

function tone(hz: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
}

/** Rejects with an AppError of this code whose message matches. */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

/** A 16-bit mono WAV header with chosen fields, followed by `dataBytes` zero bytes. */
function header(fields: {
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  declaredData?: number;
  dataBytes?: number;
}): Uint8Array {
  const channels = fields.channels ?? 1;
  const bits = fields.bits ?? 16;
  const dataBytes = fields.dataBytes ?? 64;
  const wav = wavFile(new Float32Array(dataBytes / 2));
  const view = new DataView(wav.buffer);
  view.setUint16(22, channels, true);
  view.setUint32(24, fields.rate ?? 16000, true);
  view.setUint16(32, fields.blockAlign ?? channels * (bits / 8), true);
  view.setUint16(34, bits, true);
  view.setUint32(40, fields.declaredData ?? dataBytes, true);
  return wav;
}

describe('decodeAudio: WAV decoded in process', () => {
  const signal = tone(440, 16000, 0.25);

  const layouts: Array<[string, Parameters<typeof wavFile>[1], number]> = [
    ['8-bit PCM', { bits: 8 }, 1 / 128],
    ['16-bit PCM', { bits: 16 }, 1 / 32768],
    ['24-bit PCM', { bits: 24 }, 1e-6],
    ['32-bit PCM', { bits: 32 }, 1e-6],
    ['32-bit float', { bits: 32, float: true }, 1e-7],
    ['64-bit float', { bits: 64, float: true }, 1e-7],
  ];
  for (const [name, options, tolerance] of layouts) {
    it(`reads ${name} to within its quantisation step`, async () => {
      const decoded = await decodeAudio(wavFile(signal, options), 16000, LIMITS);
      assert.equal(decoded.format, 'wav');
      assert.equal(decoded.sampleRate, 16000);
      assert.equal(decoded.samples.length, signal.length);
      assert.equal(decoded.durationSeconds, 0.25);
      let worst = 0;
      for (let i = 0; i < signal.length; i += 1) worst = Math.max(worst, Math.abs(decoded.samples[i]! - signal[i]!));
      assert.ok(worst <= tolerance, `max error ${worst} > ${tolerance}`);
    });
  }

  it('averages any number of channels into one', async () => {
    const decoded = await decodeAudio(wavFile(signal, { bits: 32, float: true, channelGains: [1, 0, -0.5, 0.5, 1, 1] }), 16000, LIMITS);
    for (const i of [0, 17, 1000, 3999]) assert.ok(Math.abs(decoded.samples[i]! - signal[i]! * 0.5) < 1e-6);
  });

  it('resamples to the target rate without changing pitch or level, and removes what the new rate cannot hold', async () => {
    const decoded = await decodeAudio(wavFile(tone(1000, 44100, 1), { rate: 44100 }), 16000, LIMITS);
    assert.equal(decoded.samples.length, 16000);
    const expected = tone(1000, 16000, 1);
    let worst = 0;
    for (let i = 200; i < 15800; i += 1) worst = Math.max(worst, Math.abs(decoded.samples[i]! - expected[i]!));
    assert.ok(worst < 1e-3, `1 kHz tone after 44.1 -> 16 kHz: max error ${worst}`);
    // 10 kHz is above the new Nyquist (8 kHz): it must not fold back to 6 kHz.
    const above = await decodeAudio(wavFile(tone(10000, 44100, 1), { rate: 44100 }), 16000, LIMITS);
    assert.ok(rootMeanSquare(above.samples.subarray(200, 15800)) < 1e-4);
  });

  it('decodes a long WAV in a worker thread to exactly what the in-thread path gives, moving the body when allowed', async () => {
    const long = wavFile(tone(440, 44100, 20), { rate: 44100, channelGains: [1, 0.5] });
    const expected = resample(decodeWavMono(long, parseWavHeader(long)), 44100, 16000);
    const copied = await decodeAudio(long, 16000, LIMITS);
    assert.deepEqual(copied.samples, expected);
    assert.equal(long.length, 3_528_044, 'without transferBody the caller keeps its bytes');
    const moved = await decodeAudio(long, 16000, LIMITS, { transferBody: true });
    assert.deepEqual(moved.samples, expected);
    assert.equal(long.length, 0, 'with transferBody the body moved to the decoding thread');
  });

  it('reads a streamed WAV whose size fields say 0xFFFFFFFF (as ffmpeg writes to a pipe) to the end of the body', async () => {
    const wav = wavFile(signal);
    const view = new DataView(wav.buffer);
    view.setUint32(4, 0xffffffff, true);
    view.setUint32(40, 0xffffffff, true);
    const decoded = await decodeAudio(wav, 16000, LIMITS);
    assert.equal(decoded.samples.length, signal.length);
  });

  it('hands a WAV in another codec (A-law) to ffmpeg', async () => {
    const alaw = await encodeWithFfmpeg(wavFile(signal), ['-c:a', 'pcm_alaw', '-f', 'wav']);
    assert.equal(new DataView(alaw.buffer, alaw.byteOffset).getUint16(20, true), 6, 'format tag 6 = A-law');
    const decoded = await decodeAudio(alaw, 16000, LIMITS);
    assert.equal(decoded.format, 'wav');
    assert.equal(decoded.samples.length, signal.length);
    assert.ok(Math.abs(rootMeanSquare(decoded.samples) - rootMeanSquare(signal)) < 0.01);
  });
});

describe('decodeAudio: what it refuses, and why', () => {
  const cases: Array<[string, () => Uint8Array, ErrorCode, RegExp]> = [
    ['an empty body', () => new Uint8Array(0), ErrorCode.EmptyBody, /empty/],
    [
      'a text file',
      () => new TextEncoder().encode('hello, this is not audio at all\n'),
      ErrorCode.MediaInvalid,
      /not a recognised audio format: it looks like text \("hello, this is not audio/,
    ],
    [
      'a PNG',
      () => Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0),
      ErrorCode.MediaInvalid,
      /starts with bytes 89 50 4e 47/,
    ],
    ['0 channels', () => header({ channels: 0, blockAlign: 2 }), ErrorCode.MediaInvalid, /WAV header says 0 channels/],
    ['1000 channels', () => header({ channels: 1000, blockAlign: 2000 }), ErrorCode.MediaInvalid, /says 1000 channels \(at most 64/],
    ['a sample rate of 500 Hz', () => header({ rate: 500 }), ErrorCode.MediaInvalid, /sample rate of 500 Hz \(accepted: 1000 to 384000\)/],
    ['a sample rate of 4 GHz', () => header({ rate: 4_000_000_000 }), ErrorCode.MediaInvalid, /sample rate of 4000000000 Hz/],
    ['12-bit PCM', () => header({ bits: 12, blockAlign: 2 }), ErrorCode.MediaInvalid, /PCM with 12 bits per sample is not supported/],
    [
      'a block align that does not fit the channels',
      () => header({ blockAlign: 6 }),
      ErrorCode.MediaInvalid,
      /block align of 6 bytes; 1 channel\(s\) of 16 bits need 2/,
    ],
    [
      'a data chunk longer than the body',
      () => header({ declaredData: 2_000_000_000 }),
      ErrorCode.MediaInvalid,
      /data chunk says 2000000000 bytes but only 64 follow \(truncated/,
    ],
    ['a RIFF/WAVE with no data chunk', () => header({}).slice(0, 36), ErrorCode.MediaInvalid, /no data chunk/],
    ['a header only', () => header({ dataBytes: 0 }), ErrorCode.MediaInvalid, /holds no samples/],
  ];
  for (const [name, body, code, message] of cases) {
    it(`refuses ${name}`, () => rejectsWith(decodeAudio(body(), 16000, LIMITS), code, message));
  }

  it('refuses a WAV longer than maxSeconds from its header, and a body over maxBytes', async () => {
    const twoSeconds = wavFile(new Float32Array(32000));
    await rejectsWith(
      decodeAudio(twoSeconds, 16000, { ...LIMITS, maxSeconds: 1.5 }),
      ErrorCode.AudioTooLong,
      /2\.0 s long; the limit is 1\.5 s/,
    );
    await rejectsWith(
      decodeAudio(twoSeconds, 16000, { ...LIMITS, maxBytes: 1000 }),
      ErrorCode.PayloadTooLarge,
      /64044 bytes; the limit is 1000/,
    );
  });
});

describe('decodeAudio: compressed formats through ffmpeg', () => {
  let speech: Float32Array;
  let wav: Uint8Array;
  before(async () => {
    speech = trimToVoice(await synthesize('Compressed audio keeps the words where they were'));
    wav = wavFile(speech);
  });

  const formats: Array<[string, string[]]> = [
    ['mp3', ['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3']],
    ['ogg', ['-c:a', 'libvorbis', '-f', 'ogg']],
    ['ogg', ['-c:a', 'libopus', '-b:a', '32k', '-f', 'ogg']],
    ['flac', ['-c:a', 'flac', '-f', 'flac']],
    ['m4a', ['-c:a', 'aac', '-b:a', '64k', '-f', 'ipod']],
    ['webm', ['-c:a', 'libopus', '-f', 'webm']],
  ];
  for (const [format, args] of formats) {
    it(`decodes ${format} (${args[1]}) to the same length and loudness envelope`, async () => {
      const decoded = await decodeAudio(await encodeWithFfmpeg(wav, args), 16000, LIMITS);
      assert.equal(decoded.format, format);
      assert.ok(
        Math.abs(decoded.durationSeconds - speech.length / 16000) < 0.06,
        `duration ${decoded.durationSeconds} vs ${speech.length / 16000}`,
      );
      assert.ok(envelopeCorrelation(decoded.samples, speech) > 0.95);
    });
  }

  it("reports ffmpeg's reason for a corrupt file, and stops a long one at maxSeconds", async () => {
    const junk = new Uint8Array(4000).map((_, i) => (i * 7919) % 251);
    junk.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0]);
    await rejectsWith(
      decodeAudio(junk, 16000, LIMITS),
      ErrorCode.MediaInvalid,
      /could not decode the mp3 audio: Invalid data found when processing input/,
    );
    const mp3 = await encodeWithFfmpeg(wav, ['-c:a', 'libmp3lame', '-f', 'mp3']);
    await rejectsWith(decodeAudio(mp3, 16000, { ...LIMITS, maxSeconds: 1 }), ErrorCode.AudioTooLong, /longer than the limit of 1 s/);
    await rejectsWith(decodeAudio(mp3, 16000, { ...LIMITS, timeoutMs: 1 }), ErrorCode.DeadlineExceeded, /took longer than 1 ms/);
  });
});

/** Correlation of 20 ms RMS envelopes, tolerant of codec delay up to 60 ms. */
function envelopeCorrelation(a: Float32Array, b: Float32Array): number {
  const envelope = (x: Float32Array) =>
    Array.from({ length: Math.floor(x.length / 320) }, (_, i) => rootMeanSquare(x.subarray(i * 320, i * 320 + 320)));
  const ea = envelope(a);
  const eb = envelope(b);
  let best = -1;
  for (let shift = -3; shift <= 3; shift += 1) {
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < eb.length; i += 1) if (ea[i + shift] !== undefined) pairs.push([ea[i + shift]!, eb[i]!]);
    best = Math.max(best, pearson(pairs));
  }
  return best;
}

function pearson(pairs: Array<[number, number]>): number {
  const n = pairs.length;
  const [ma, mb] = pairs.reduce(([x, y], [a, b]) => [x + a / n, y + b / n], [0, 0]);
  let [sab, saa, sbb] = [0, 0, 0];
  for (const [a, b] of pairs) {
    sab += (a - ma) * (b - mb);
    saa += (a - ma) ** 2;
    sbb += (b - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

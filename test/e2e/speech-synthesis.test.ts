import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { env as transformersEnv, pipeline } from '@huggingface/transformers';
import OpenAI from 'openai';
import request from 'supertest';
import { OUTPUT_RATE, SPEECH_FORMATS } from '../../src/speech/audio-encode.js';
import { decodeWithFfmpeg } from '../../src/speech/ffmpeg-decode.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir, ROOT } from '../support/processes.js';
import { readTones, SEGMENT, spokenText, VITS_RATE, type VitsFixture, vitsManifest, writeVitsFixture } from '../support/vits-fixture.js';

const MODEL = 'vits-fixture';
const VOICED = 'vits-voices';
const MAX_CHARS = 300;
const TEXT = "Hello, World, it's 2026.";
/** A tone run of the fixture lasts SEGMENT samples; runs shorter than half of that are codec edges, not characters. */
const MIN_RUN_S = SEGMENT / VITS_RATE / 2;
const CONTENT_TYPES = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };
const LIMITS = { maxSeconds: 600, timeoutMs: 30_000 };

/** Any format the route answers, decoded to mono float32 at OUTPUT_RATE (pcm is read as it is: 16-bit little-endian). */
async function decode(bytes: Buffer, format: string): Promise<Float32Array> {
  if (format !== 'pcm') return decodeWithFfmpeg(bytes, OUTPUT_RATE, format, LIMITS);
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2) / 32768;
  return out;
}

describe('POST /v1/audio/speech (OpenAI) on a VITS-layout model served by Transformers.js', () => {
  let root: string;
  let fx: VitsFixture;
  let t: TestApp;
  let client: OpenAI;

  before(async () => {
    root = await makeTempDir('lathe-tts-');
    fx = await writeVitsFixture(join(root, 'vits'));
    const models = join(root, 'models');
    await writeManifest(models, MODEL, vitsManifest(fx));
    await writeManifest(models, VOICED, vitsManifest(fx, { voices: ['alloy', 'nova'] }));
    // A model of another task, for the 400 below.
    await cp(join(ROOT, 'models', 'silero-vad'), join(models, 'silero-vad'), { recursive: true });
    t = await startTestApp({ LATHE_MODELS_DIR: models, LATHE_SPEECH_MAX_INPUT_CHARS: String(MAX_CHARS) });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await t?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const speak = (body: object) =>
    request(t.server)
      .post('/v1/audio/speech')
      .send(body)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });

  function expectError(res: request.Response, status: number, code: string, message: RegExp) {
    assert.equal(res.status, status, String(res.body));
    const body = JSON.parse(String(res.body)) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code);
    assert.match(body.error.message, message);
  }

  it('says what the Transformers.js pipeline says on the same folder: the wav answer is its audio at 24 kHz', async () => {
    transformersEnv.allowRemoteModels = false;
    const pipe = await pipeline('text-to-speech', fx.dir, { dtype: 'fp32' });
    const reference = (await pipe(TEXT)) as { audio: Float32Array; sampling_rate: number };
    await pipe.dispose();
    assert.equal(reference.sampling_rate, VITS_RATE);
    assert.equal(readTones(reference.audio, VITS_RATE, MIN_RUN_S), spokenText(TEXT));

    const res = await speak({ model: MODEL, input: TEXT, voice: 'default', response_format: 'wav' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'audio/wav');
    assert.equal(res.headers['x-model'], MODEL);
    // Back to the model's rate with the same resampler: 16 kHz -> 24 kHz -> 16 kHz changes a tone
    // below 8 kHz by at most a few thousandths, plus 16-bit rounding.
    const audio = await decodeWithFfmpeg(res.body as Buffer, VITS_RATE, 'wav', LIMITS);
    assert.ok(Math.abs(audio.length - reference.audio.length) <= 2, `${audio.length} samples vs ${reference.audio.length}`);
    let worst = 0;
    for (let i = 0; i < Math.min(audio.length, reference.audio.length); i++) {
      worst = Math.max(worst, Math.abs(audio[i]! - reference.audio[i]!));
    }
    assert.ok(worst < 0.02, `largest difference from the reference: ${worst}`);
  });

  for (const format of SPEECH_FORMATS) {
    it(`answers ${format} through the openai client, which ffmpeg decodes back to the input's text`, async () => {
      const response = await client.audio.speech.create({ model: MODEL, voice: 'default', input: TEXT, response_format: format });
      assert.equal(response.headers.get('content-type'), CONTENT_TYPES[format]);
      const audio = await decode(Buffer.from(await response.arrayBuffer()), format);
      assert.equal(readTones(audio, OUTPUT_RATE, MIN_RUN_S), spokenText(TEXT));
      const expectedSeconds = ((2 * spokenText(TEXT).length + 1) * SEGMENT) / VITS_RATE;
      // Lossy codecs pad a frame or two at the ends.
      assert.ok(Math.abs(audio.length / OUTPUT_RATE - expectedSeconds) < 0.1, `${audio.length / OUTPUT_RATE} s vs ${expectedSeconds} s`);
    });
  }

  it('speed 2 halves the duration (within 5%) and keeps every tone', async () => {
    const durations: number[] = [];
    for (const speed of [1, 2]) {
      const res = await speak({ model: MODEL, input: TEXT, voice: 'default', response_format: 'wav', speed });
      assert.equal(res.status, 200);
      const audio = await decode(res.body as Buffer, 'wav');
      assert.equal(readTones(audio, OUTPUT_RATE, MIN_RUN_S / speed), spokenText(TEXT));
      durations.push(audio.length / OUTPUT_RATE);
    }
    const ratio = durations[1]! / durations[0]!;
    assert.ok(Math.abs(ratio - 0.5) <= 0.025, `duration ratio ${ratio}`);
  });

  it('speaks a long input sentence by sentence, skipping sentences with nothing to say', async () => {
    const input = 'First one. 你好。 Second one? Third!';
    const res = await speak({ model: MODEL, input, voice: 'default', response_format: 'flac' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    const audio = await decode(res.body as Buffer, 'flac');
    // Each sentence is spoken alone (the space between sentences is not a character of any sentence).
    assert.equal(readTones(audio, OUTPUT_RATE, MIN_RUN_S), 'first onesecond onethird');
  });

  it('answers concurrent requests each with its own text', async () => {
    const inputs = Array.from({ length: 8 }, (_, i) => `request ${i} says ${'abcdefgh'.slice(0, i + 1)}`);
    const answers = await Promise.all(inputs.map((input) => speak({ model: MODEL, input, voice: 'default', response_format: 'pcm' })));
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 200);
      assert.equal(readTones(await decode(res.body as Buffer, 'pcm'), OUTPUT_RATE, MIN_RUN_S), spokenText(inputs[i]!));
    }
  });

  it("takes a voice the manifest lists and refuses the others, naming the model's voices", async () => {
    const ok = await speak({ model: VOICED, input: 'hi', voice: 'nova', response_format: 'pcm' });
    assert.equal(ok.status, 200);
    assert.equal(readTones(await decode(ok.body as Buffer, 'pcm'), OUTPUT_RATE, MIN_RUN_S), 'hi');
    expectError(
      await speak({ model: VOICED, input: 'hi', voice: 'default' }),
      400,
      'VALIDATION_FAILED',
      /^model "vits-voices" has no voice "default"; its voices: alloy, nova$/,
    );
    expectError(await speak({ model: MODEL, input: 'hi', voice: 'alloy' }), 400, 'VALIDATION_FAILED', /its voices: default$/);
  });

  it('says instructions are not used', async () => {
    const res = await speak({ model: MODEL, input: 'hi', voice: 'default', response_format: 'pcm', instructions: 'cheerfully' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-lathe-notice'], 'instructions are not used: this model takes no prompt');
  });

  it('refuses bad input with a 4xx and a code before any audio', async () => {
    const base = { model: MODEL, input: 'hi', voice: 'default' };
    expectError(await speak({ ...base, input: '' }), 400, 'VALIDATION_FAILED', /input: input must not be empty/);
    expectError(await speak({ ...base, input: 'a'.repeat(MAX_CHARS + 1) }), 400, 'VALIDATION_FAILED', /at most 300 characters/);
    expectError(await speak({ ...base, input: '你好。' }), 400, 'VALIDATION_FAILED', /can say nothing of this input/);
    expectError(await speak({ ...base, input: 'bad \ud800 text' }), 400, 'VALIDATION_FAILED', /unpaired UTF-16 surrogate/);
    expectError(await speak({ ...base, response_format: 'ogg' }), 400, 'VALIDATION_FAILED', /response_format/);
    expectError(await speak({ ...base, speed: 0 }), 400, 'VALIDATION_FAILED', /speed must be at least 0.25/);
    expectError(await speak({ ...base, speed: 10 }), 400, 'VALIDATION_FAILED', /speed must be at most 4/);
    expectError(await speak({ ...base, stream_format: 'sse' }), 400, 'VALIDATION_FAILED', /only 'audio' is served/);
    expectError(await speak({ ...base, unknown: 1 }), 400, 'VALIDATION_FAILED', /unknown/i);
    expectError(await speak({ ...base, model: 'silero-vad' }), 400, 'VALIDATION_FAILED', /is a voice-activity-detection model/);
    expectError(await speak({ ...base, model: 'no-such-model' }), 404, 'MODEL_NOT_FOUND', /no-such-model/);
    const malformed = await request(t.server).post('/v1/audio/speech').set('content-type', 'application/json').send('{"model": ');
    assert.equal(malformed.status, 400);
    assert.equal((malformed.body as { error: { code: string } }).error.code, 'MALFORMED_JSON');
  });
});

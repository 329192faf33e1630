import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type WhisperFixture, whisperManifest, writeWhisperFixture } from '../support/hf-whisper-fixture.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir, ROOT } from '../support/processes.js';
import { encodeWithFfmpeg, RATE, wavFile } from '../support/speech-audio.js';

const MODEL = 'whisper-fixture';
const NOTICE = 'prompt is not used: this server does not condition Whisper on a prompt';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** An MP3's decoded length differs from the source by the encoder's padding, a few frames of 1152 samples. */
const MP3_DURATION_TOLERANCE_S = 0.1;

/** A 440 Hz tone with a slow swell: the fixture's transcript does not depend on the audio, so any will do. */
function tone(seconds: number): Float32Array {
  return Float32Array.from(
    { length: Math.round(seconds * RATE) },
    (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / RATE) * (1 + Math.sin(i / 900)) * 0.5,
  );
}

describe('POST /v1/audio/transcriptions (OpenAI) on a bigram Whisper-layout model served by Transformers.js', () => {
  let root: string;
  let fx: WhisperFixture;
  let t: TestApp;
  let client: OpenAI;
  const wav = Buffer.from(wavFile(tone(2.5)));

  before(async () => {
    root = await makeTempDir('lathe-asr-');
    fx = await writeWhisperFixture(join(root, 'whisper'));
    const models = join(root, 'models');
    await writeManifest(models, MODEL, whisperManifest(fx));
    // A model of another task, for the 400 below.
    await cp(join(ROOT, 'models', 'silero-vad'), join(models, 'silero-vad'), { recursive: true });
    t = await startTestApp({ LATHE_MODELS_DIR: models });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await t?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const transcribe = (fields: Record<string, string>, file: Buffer | null = wav, name = 'talk.wav') => {
    const req = request(t.server).post('/v1/audio/transcriptions');
    for (const [key, value] of Object.entries(fields)) req.field(key, value);
    return file ? req.attach('file', file, name) : req;
  };

  function expectError(res: request.Response, status: number, code: string, message: string | RegExp) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    const body = res.body as { error: { code: string; message: string }; requestId: string };
    assert.match(res.headers['x-request-id']!, UUID);
    assert.deepEqual(Object.keys(body).sort(), ['error', 'requestId']);
    assert.equal(body.requestId, res.headers['x-request-id']);
    assert.equal(body.error.code, code);
    if (typeof message === 'string') assert.equal(body.error.message, message);
    else assert.match(body.error.message, message);
  }

  it('builds the fixture so that each decoder prompt has one known path', () => {
    const token = (id: number) => Object.keys(fx.vocab).find((k) => fx.vocab[k] === id);
    assert.deepEqual(fx.paths.noTimestamps.map(token), ['Ġhello', 'Ġworld', '<|endoftext|>']);
    assert.deepEqual(fx.paths.timestamps.map(token), ['<|0.00|>', 'Ġhe', 'llo', 'Ġwor', 'ld', '<|1.00|>', '<|endoftext|>']);
  });

  it('answers json with {text}, naming the model and the timings in headers', async () => {
    const res = await transcribe({ model: MODEL });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(res.body, { text: fx.expectedText });
    assert.equal(res.headers['x-model'], MODEL);
    assert.equal(res.headers['x-model-version'], '1');
    assert.match(res.headers['x-inference-time-ms']!, /^\d+\.\d{3}$/);
    assert.match(res.headers['server-timing']!, /decode;dur=.*inference;dur=/);
    assert.equal(res.headers['x-lathe-notice'], undefined);
    // json is the default; asking for it gives the same.
    assert.deepEqual((await transcribe({ model: MODEL, response_format: 'json' })).body, { text: fx.expectedText });
  });

  it('answers text as text/plain: the transcript and a newline', async () => {
    const res = await transcribe({ model: MODEL, response_format: 'text' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.text, `${fx.expectedText}\n`);
  });

  it('answers verbose_json with the duration of the audio sent and the segments the timestamp tokens mark', async () => {
    const segments = fx.expectedSegments.map((s, id) => ({ id, ...s, temperature: 0 }));
    const res = await transcribe({ model: MODEL, response_format: 'verbose_json', language: 'en' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { task: 'transcribe', language: 'en', duration: 2.5, text: fx.expectedText, segments });
    const unnamed = await transcribe({ model: MODEL, response_format: 'verbose_json', 'timestamp_granularities[]': 'segment' });
    assert.deepEqual(unnamed.body, { task: 'transcribe', language: 'en', duration: 2.5, text: fx.expectedText, segments });
  });

  it('gives the same transcript for other languages and, as every row of the model is one-hot, when sampling', async () => {
    const variants: Array<Record<string, string>> = [{ language: 'fr' }, { language: 'de', temperature: '0.8' }, { temperature: '1' }];
    for (const fields of variants) {
      const res = await transcribe({ model: MODEL, ...fields });
      assert.equal(res.status, 200, `${JSON.stringify(fields)}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, { text: fx.expectedText }, JSON.stringify(fields));
    }
    const sampled = await transcribe({ model: MODEL, response_format: 'verbose_json', temperature: '0.5' });
    assert.deepEqual(
      (sampled.body as { segments: unknown }).segments,
      fx.expectedSegments.map((s, id) => ({ id, ...s, temperature: 0.5 })),
    );
  });

  it('decodes MP3 through ffmpeg', async () => {
    const mp3 = Buffer.from(await encodeWithFfmpeg(wav, ['-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3']));
    const res = await transcribe({ model: MODEL }, mp3, 'talk.mp3');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { text: fx.expectedText });
    const verbose = await transcribe({ model: MODEL, response_format: 'verbose_json' }, mp3, 'talk.mp3');
    const body = verbose.body as { duration: number; text: string };
    assert.equal(body.text, fx.expectedText);
    assert.ok(Math.abs(body.duration - 2.5) <= MP3_DURATION_TOLERANCE_S, `MP3 duration ${body.duration}`);
  });

  it('reports an unused prompt in x-lathe-notice and still transcribes', async () => {
    const res = await transcribe({ model: MODEL, prompt: 'Hello, World.' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-lathe-notice'], NOTICE);
    assert.deepEqual(res.body, { text: fx.expectedText });
  });

  it('cuts audio over 30 s into overlapping windows and stitches what Transformers.js merges', async () => {
    // 70 s: windows at 0, 20 and 40 s (30 s long, 5 s stride each side). Every window says "hello world"
    // at 0.00-1.00 s of the window. Without timestamps Transformers.js merges the three token lists by
    // their longest overlap into two repetitions; with timestamps the windows' 0.00 and 1.00 fall in the
    // strides of the next and previous windows, so one segment remains, with no end (the service ends
    // it at the duration).
    const long = Buffer.from(wavFile(tone(70)));
    const plain = await transcribe({ model: MODEL }, long);
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.deepEqual(plain.body, { text: 'hello world hello world' });
    const verbose = await transcribe({ model: MODEL, response_format: 'verbose_json' }, long);
    assert.deepEqual(verbose.body, {
      task: 'transcribe',
      language: 'en',
      duration: 70,
      text: 'hello world',
      segments: [{ id: 0, start: 0, end: 70, text: ' hello world', temperature: 0 }],
    });
  });

  it('refuses bad requests with a code', async () => {
    expectError(await transcribe({ model: MODEL }, null), 400, 'EMPTY_BODY', 'the form has no file part');
    expectError(await transcribe({}), 400, 'VALIDATION_FAILED', /^invalid options: model: /);
    expectError(await transcribe({ model: 'no-such-model' }), 404, 'MODEL_NOT_FOUND', /no-such-model/);
    expectError(
      await transcribe({ model: 'silero-vad' }),
      400,
      'VALIDATION_FAILED',
      'model "silero-vad" is a voice-activity-detection model; this route needs automatic-speech-recognition',
    );
    const notes = Buffer.from('these are meeting notes, not a recording\n'.repeat(20));
    expectError(await transcribe({ model: MODEL }, notes, 'notes.mp3'), 422, 'MEDIA_INVALID', /not a recognised audio format/);
    expectError(
      await transcribe({ model: MODEL, response_format: 'srt' }),
      400,
      'VALIDATION_FAILED',
      /^invalid options: response_format: /,
    );
    expectError(await transcribe({ model: MODEL, temperature: '2' }), 400, 'VALIDATION_FAILED', /^invalid options: temperature: /);
    expectError(await transcribe({ model: MODEL, language: 'English' }), 400, 'VALIDATION_FAILED', /language: must be an ISO-639-1 code/);
    // Well-formed but not a Whisper language: Transformers.js refuses it inside the worker.
    expectError(
      await transcribe({ model: MODEL, language: 'xx' }),
      400,
      'VALIDATION_FAILED',
      /^inference failed: Language "xx" is not supported/,
    );
    // The worker survived all of that.
    assert.deepEqual((await transcribe({ model: MODEL })).body, { text: fx.expectedText });
  });

  it('serves the official openai client', async () => {
    const file = async () => toFile(wav, 'a.wav', { type: 'audio/wav' });
    const json = await client.audio.transcriptions.create({ file: await file(), model: MODEL });
    assert.equal(json.text, fx.expectedText);
    const text = await client.audio.transcriptions.create({ file: await file(), model: MODEL, response_format: 'text' });
    assert.equal(text, `${fx.expectedText}\n`);
    const verbose = await client.audio.transcriptions.create({
      file: await file(),
      model: MODEL,
      response_format: 'verbose_json',
      language: 'en',
      timestamp_granularities: ['segment'],
    });
    assert.equal(verbose.duration, 2.5);
    assert.equal(verbose.language, 'en');
    assert.deepEqual(
      verbose.segments?.map((s) => ({ start: s.start, end: s.end, text: s.text })),
      fx.expectedSegments,
    );
    await assert.rejects(client.audio.transcriptions.create({ file: await file(), model: 'silero-vad' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      return true;
    });
  });
});

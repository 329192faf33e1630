import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type WhisperFixture, whisperManifest, writeWhisperFixture } from '../support/hf-whisper-fixture.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir, ROOT } from '../support/processes.js';
import { encodeWithFfmpeg, RATE, synthesize, wavFile } from '../support/speech-audio.js';

const MODEL = 'whisper-fixture';
/** The same model with the generation_config of an English-only Whisper (no language or task tokens). */
const ENGLISH_ONLY = 'whisper-fixture-en';
const NOTICE = 'prompt is not used: this server does not condition Whisper on a prompt';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** An MP3's decoded length differs from the source by the encoder's padding, a few frames of 1152 samples. */
const MP3_DURATION_TOLERANCE_S = 0.1;

/**
 * A tone with a slow swell: the fixture's transcript does not depend on the audio, so any will do; its
 * detected language depends on the pitch (440 Hz is "English", 4 kHz "French").
 */
function tone(seconds: number, hz = 440): Float32Array {
  return Float32Array.from(
    { length: Math.round(seconds * RATE) },
    (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / RATE) * (1 + Math.sin(i / 900)) * 0.5,
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
    const englishOnly = join(root, 'whisper-en');
    await cp(fx.dir, englishOnly, { recursive: true });
    const generation = JSON.parse(await readFile(join(englishOnly, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['lang_to_id', 'task_to_id', 'is_multilingual']) delete generation[key];
    await writeFile(join(englishOnly, 'generation_config.json'), JSON.stringify(generation));
    await writeManifest(models, ENGLISH_ONLY, whisperManifest({ dir: englishOnly }));
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

  it('detects the language when none is given: from the pitch the model was built to hear, in verbose_json and Content-Language', async () => {
    const high = Buffer.from(wavFile(tone(2.5, 4000)));
    for (const [audio, language] of [
      [wav, 'en'],
      [high, 'fr'],
    ] as const) {
      const res = await transcribe({ model: MODEL, response_format: 'verbose_json' }, audio);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.headers['content-language'], language);
      const body = res.body as { task: string; language: string; text: string };
      assert.deepEqual([body.task, body.language, body.text], ['transcribe', language, fx.expectedText]);
      const plain = await transcribe({ model: MODEL }, audio);
      assert.equal(plain.headers['content-language'], language);
    }
    // A language given is used as it is, not detected.
    const given = await transcribe({ model: MODEL, response_format: 'verbose_json', language: 'de' }, high);
    assert.equal((given.body as { language: string }).language, 'de');
    assert.equal(given.headers['content-language'], 'de');
    // A model without language tokens hears English, and is not asked to detect anything.
    const english = await transcribe({ model: ENGLISH_ONLY, response_format: 'verbose_json' }, high);
    assert.equal(english.status, 200, JSON.stringify(english.body));
    assert.deepEqual([(english.body as { language: string }).language, (english.body as { text: string }).text], ['en', fx.expectedText]);
  });

  it('translates espeak-ng speech through POST /v1/audio/translations with the openai client', async () => {
    const speech = Buffer.from(wavFile(await synthesize('the invoice is due on friday')));
    const file = async () => toFile(speech, 'speech.wav', { type: 'audio/wav' });
    const json = await client.audio.translations.create({ file: await file(), model: MODEL });
    assert.deepEqual(json, { text: fx.expectedTranslation });
    const text = await client.audio.translations.create({ file: await file(), model: MODEL, response_format: 'text' });
    assert.equal(text, `${fx.expectedTranslation}\n`);
    // The spoken language is the one transcription detects on the same audio.
    const heard = await transcribe({ model: MODEL, response_format: 'verbose_json' }, speech);
    const spoken = (heard.body as { language: string }).language;
    assert.ok(['en', 'fr'].includes(spoken), spoken);
    const verbose = (await client.audio.translations.create({ file: await file(), model: MODEL, response_format: 'verbose_json' })) as {
      language: string;
      text: string;
      segments?: Array<{ start: number; end: number; text: string }>;
    };
    assert.equal(verbose.language, spoken);
    assert.equal(verbose.text, fx.expectedTranslation);
    assert.deepEqual(
      verbose.segments?.map((s) => ({ start: s.start, end: s.end, text: s.text })),
      fx.expectedTranslationSegments,
    );
    const raw = await request(t.server).post('/v1/audio/translations').field('model', MODEL).attach('file', speech, 'speech.wav');
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-language'], spoken);
  });

  it('refuses translation requests it cannot serve, with a code', async () => {
    const translate = (fields: Record<string, string>) => {
      const req = request(t.server).post('/v1/audio/translations');
      for (const [key, value] of Object.entries(fields)) req.field(key, value);
      return req.attach('file', wav, 'talk.wav');
    };
    // OpenAI's translation API has no language field: the spoken language is detected.
    expectError(await translate({ model: MODEL, language: 'fr' }), 400, 'VALIDATION_FAILED', /language/);
    expectError(await translate({ model: ENGLISH_ONLY }), 400, 'VALIDATION_FAILED', /cannot translate: it is an English-only Whisper/);
    expectError(await translate({ model: 'silero-vad' }), 400, 'VALIDATION_FAILED', /is a voice-activity-detection model/);
    expectError(await translate({ model: MODEL, response_format: 'srt' }), 400, 'VALIDATION_FAILED', /response_format/);
  });
});

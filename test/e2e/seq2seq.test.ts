/**
 * Translation, summarization and text2text over HTTP on generated Marian- and T5-layout models
 * (test/support/seq2seq-fixture.ts): every answer must equal both the output known by construction
 * and Transformers.js' own pipeline on the same folder, greedy and with num_beams 4 (the fixture
 * makes beam search and greedy agree; Transformers.js' num_beams is greedy), one request at a time
 * and under 16 concurrent ones.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { env, pipeline } from '@huggingface/transformers';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir } from '../support/processes.js';
import { DICTIONARY, type Seq2SeqFixture, seq2seqManifest, T5_PREFIXES, writeSeq2SeqFixture } from '../support/seq2seq-fixture.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

const EN = DICTIONARY.map(([en]) => en);
/** 20 inputs of 1 to 40 words; some with words the vocabulary spells letter by letter, and punctuation. */
const INPUTS = Array.from({ length: 20 }, (_, i) => {
  const words = Array.from({ length: 1 + ((i * 7) % 40) }, (_, k) => EN[(i * 5 + k * 3) % EN.length]!);
  if (i % 4 === 1) words.splice(1, 0, 'xyz');
  if (i % 5 === 2) words.push('!');
  return words.join(' ');
});

type Pipe = (texts: string | string[], options?: Record<string, unknown>) => Promise<Array<Record<string, string>>>;

describe('encoder-decoder text routes on generated Marian and T5 exports', () => {
  let root: string;
  let marian: Seq2SeqFixture;
  let t5: Seq2SeqFixture;
  let m2m: Seq2SeqFixture;
  let t: TestApp;
  let translate: Pipe;
  let summarize: Pipe;
  let text2text: Pipe;

  before(async () => {
    root = await makeTempDir('lathe-seq2seq-');
    marian = await writeSeq2SeqFixture(join(root, 'marian-hf'), 'marian');
    t5 = await writeSeq2SeqFixture(join(root, 't5-hf'), 't5');
    m2m = await writeSeq2SeqFixture(join(root, 'm2m-hf'), 'm2m100');
    const models = join(root, 'models');
    await writeManifest(models, 'opus-tiny', seq2seqManifest(marian));
    await writeManifest(models, 'opus-tiny-small', seq2seqManifest(marian, { maxSequences: 2, queue: 0 }));
    await writeManifest(models, 'opus-tiny-narrow', seq2seqManifest(marian, { maxSequences: 2, queue: 4 }));
    await writeManifest(models, 't5-tiny', seq2seqManifest(t5));
    await writeManifest(models, 'm2m-tiny', seq2seqManifest(m2m));
    t = await startTestApp({ LATHE_MODELS_DIR: models });
    translate = (await pipeline('translation', marian.dir, { dtype: 'fp32' })) as unknown as Pipe;
    summarize = (await pipeline('summarization', t5.dir, { dtype: 'fp32' })) as unknown as Pipe;
    text2text = (await pipeline('text2text-generation', t5.dir, { dtype: 'fp32' })) as unknown as Pipe;
  });

  after(async () => {
    for (const p of [translate, summarize, text2text]) await (p as unknown as { dispose?: () => Promise<void> })?.dispose?.();
    await t?.close();
    await rm(root, { recursive: true, force: true });
  });

  const post = (route: string, body: object) => request(t.server).post(`/v1/text/${route}`).send(body);

  it('translates 20 inputs as constructed and as the Transformers.js pipeline does, greedy and with 4 beams, one at a time', async () => {
    for (const text of INPUTS) {
      const [reference] = await translate(text);
      assert.deepEqual(reference, { translation_text: marian.expected(text) }, text);
      for (const parameters of [{}, { num_beams: 4 }]) {
        const res = await post('translation', { model: 'opus-tiny', inputs: text, parameters });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body, [reference]);
        assert.equal(res.headers['x-model'], 'opus-tiny');
      }
    }
  });

  it('answers the same under 16 concurrent requests (greedy and 4 beams mixed), and takes a list of inputs', async () => {
    const expected = await Promise.all(INPUTS.map(async (text) => (await translate(text))[0]));
    const jobs = INPUTS.map((text, i) => ({ text, i }));
    const results: unknown[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs.length) {
          const { text, i } = jobs[next++]!;
          const res = await post('translation', { input: text, parameters: { num_beams: i % 2 === 0 ? 4 : 1 } }).query({
            model: 'opus-tiny',
          });
          results[i] = res.status === 200 ? res.body : { status: res.status, body: res.body };
        }
      }),
    );
    assert.deepEqual(
      results,
      expected.map((e) => [e]),
    );
    const list = await post('translation', { model: 'opus-tiny', inputs: INPUTS.slice(0, 5) }).expect(200);
    assert.deepEqual(list.body, expected.slice(0, 5));
  });

  it('summarizes and generates with a T5 export as Transformers.js does (task prefix from config.json)', async () => {
    for (const text of INPUTS) {
      const [summary] = await summarize(text);
      assert.deepEqual(summary, { summary_text: t5.expected(T5_PREFIXES.summarization + text) }, text);
      const s = await post('summarization', { model: 't5-tiny', inputs: text, parameters: { num_beams: 4 } }).expect(200);
      assert.deepEqual(s.body, [summary]);
      const prompt = T5_PREFIXES.translation_en_to_de + text;
      const [generated] = await text2text(prompt);
      assert.deepEqual(generated, { generated_text: t5.expected(prompt) });
      const g = await post('text2text', { model: 't5-tiny', inputs: prompt }).expect(200);
      assert.deepEqual(g.body, [generated]);
      // translation_en_to_de's prefix, picked by src_lang / tgt_lang.
      const tr = await post('translation', { model: 't5-tiny', inputs: text, parameters: { src_lang: 'en', tgt_lang: 'de' } }).expect(200);
      assert.deepEqual(tr.body, [{ translation_text: generated!.generated_text }]);
    }
  });

  it('translates with an M2M100 export: source language token first, target language forced first, as Transformers.js does', async () => {
    const m2mPipe = (await pipeline('translation', m2m.dir, { dtype: 'fp32' })) as unknown as Pipe;
    try {
      for (const text of INPUTS.slice(0, 8)) {
        const [reference] = await m2mPipe(text, { src_lang: 'en', tgt_lang: 'de' });
        assert.deepEqual(reference, { translation_text: m2m.expected(text) }, text);
        for (const parameters of [
          { src_lang: 'en', tgt_lang: 'de' },
          { src_lang: 'en', tgt_lang: 'fr', num_beams: 3 },
        ]) {
          const res = await post('translation', { model: 'm2m-tiny', inputs: text, parameters }).expect(200);
          // The fixture translates every target language alike; only the forced first token differs, and decoding drops it.
          assert.deepEqual(res.body, [reference]);
        }
      }
    } finally {
      await (m2mPipe as unknown as { dispose(): Promise<void> }).dispose();
    }
    const missing = await post('translation', { model: 'm2m-tiny', inputs: 'hello', parameters: { src_lang: 'en' } }).expect(400);
    assert.equal(missing.body.error.message, 'inference failed: this model needs tgt_lang (one of en, de, fr)');
    const unknown = await post('translation', {
      model: 'm2m-tiny',
      inputs: 'hello',
      parameters: { src_lang: 'xx', tgt_lang: 'de' },
    }).expect(400);
    assert.equal(unknown.body.error.message, 'inference failed: src_lang "xx" is not a language of this model (en, de, fr)');
  });

  it('samples with a seed: the same seed gives the same text, another seed another one', async () => {
    // At temperature 50 the fixture's margin of 100 is a logit gap of 2: other tokens get drawn.
    const text = INPUTS[7]!;
    const sample = async (seed: number) =>
      (
        await post('translation', {
          model: 'opus-tiny',
          inputs: text,
          parameters: { do_sample: true, temperature: 50, seed, max_new_tokens: 20 },
        }).expect(200)
      ).body as Array<{ translation_text: string }>;
    const first = await sample(7);
    assert.deepEqual(await sample(7), first);
    assert.notDeepEqual(await sample(8), first);
    assert.notDeepEqual(first, [{ translation_text: marian.expected(text) }]);
  });

  it('refuses bad input with codes', async () => {
    const code = async (route: string, body: object, status: number, expected: string) => {
      const res = await post(route, body);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, expected, JSON.stringify(res.body));
      return res.body.error;
    };
    await code('translation', { model: 'opus-tiny', inputs: '' }, 400, 'VALIDATION_FAILED');
    await code('translation', { model: 'opus-tiny', inputs: [] }, 400, 'VALIDATION_FAILED');
    await code('translation', { inputs: 'hello' }, 400, 'VALIDATION_FAILED');
    await code('translation', { model: 'opus-tiny', inputs: 'hello', parameters: { num_beams: 0 } }, 400, 'VALIDATION_FAILED');
    await code('translation', { model: 'opus-tiny', inputs: 'hello', parameters: { num_beams: 9 } }, 400, 'VALIDATION_FAILED');
    const wide = await code(
      'translation',
      { model: 'opus-tiny-narrow', inputs: 'hello', parameters: { num_beams: 3 } },
      400,
      'VALIDATION_FAILED',
    );
    assert.equal(wide.message, 'inference failed: num_beams 3 needs 3 decoder rows; this model runs at most 2 at once');
    const many = await code('translation', { model: 'opus-tiny-small', inputs: ['a', 'b', 'c'] }, 400, 'VALIDATION_FAILED');
    assert.equal(many.message, '3 inputs x 1 beam need 3 decoder rows; this model holds at most 2 (running and waiting)');
    await code('translation', { model: 'opus-tiny', inputs: 'hello', parameters: { max_new_tokens: 600 } }, 400, 'CONTEXT_LENGTH_EXCEEDED');
    const long = await code('translation', { model: 'opus-tiny', inputs: Array(600).fill('cat').join(' ') }, 413, 'INPUT_TOO_LONG');
    assert.equal(long.message, 'the input has 601 tokens; this model takes at most 512');
    await code('summarization', { model: 'opus-tiny', inputs: 'hello' }, 400, 'VALIDATION_FAILED');
    await code('translation', { model: 'no-such-model', inputs: 'hello' }, 404, 'MODEL_NOT_FOUND');
    const pair = await code(
      'translation',
      { model: 't5-tiny', inputs: 'hello', parameters: { src_lang: 'en', tgt_lang: 'fr' } },
      400,
      'VALIDATION_FAILED',
    );
    // Refused in the worker, which read the model's pairs from its config.json.
    assert.equal(pair.message, 'inference failed: this model translates en -> de; not en -> fr');
    await code('translation', { model: 'opus-tiny', inputs: 'hello', parameters: { unknown: 1 } }, 400, 'VALIDATION_FAILED');
  });

  it('answers 429 OVERLOADED with Retry-After when the rows and the waiting room are taken, and serves the rest', async () => {
    const text = Array(120).fill('cat').join(' ');
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => post('translation', { model: 'opus-tiny-small', inputs: text, parameters: { num_beams: 2 } })),
    );
    const refused = responses.filter((r) => r.status === 429);
    assert.ok(refused.length >= 1, `statuses ${responses.map((r) => r.status).join(',')}`);
    for (const r of refused) {
      assert.equal(r.body.error.code, 'OVERLOADED');
      assert.equal(r.headers['retry-after'], '1');
    }
    for (const r of responses.filter((x) => x.status !== 429))
      assert.deepEqual(r.body, [{ translation_text: Array(120).fill('katze').join(' ') }]);
  });
});

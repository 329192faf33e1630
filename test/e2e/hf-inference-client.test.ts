/**
 * The published `@huggingface/inference` client pointed at Lathe as an endpoint (the model in
 * `?model=`), unchanged: each task gets the shapes the client's types promise, its own response
 * checks pass, and the values are the reference's (or Lathe's own route's for the same input).
 */
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceClient } from '@huggingface/inference';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { DRAWINGS, drawPng } from '../support/drawings.js';
import { type BertFixtures, NER_LABELS, SENTIMENT_LABELS, writeBertFixtures } from '../support/hf-fixtures.js';
import { bertEncoder, bertSequenceLogits, softmax, wordPieceEncode } from '../support/hf-reference.js';
import { type WhisperFixture, whisperManifest, writeWhisperFixture } from '../support/hf-whisper-fixture.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir, ROOT } from '../support/processes.js';
import { RATE, wavFile } from '../support/speech-audio.js';

/** Outputs must match the plain-TypeScript reference forward pass within this. */
const TOLERANCE = 1e-4;
const HIDDEN = 32;
const TEXTS = ['The movie was great', 'John Smith visited Paris and London'];

const close = (actual: readonly number[], expected: readonly number[], what: string) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i]!)));
  assert.ok(worst <= TOLERANCE, `${what}: max abs diff ${worst}`);
};

describe('@huggingface/inference against Lathe task routes (endpoint URL with ?model=)', () => {
  let root: string;
  let fx: BertFixtures;
  let whisper: WhisperFixture;
  let t: TestApp;
  let base: string;
  /** retry_on_error: false, or the client retries a 503 forever. */
  const client = (path: string) => new InferenceClient('', { retry_on_error: false }).endpoint(`${base}${path}`);

  before(async () => {
    root = await makeTempDir('lathe-hf-client-');
    fx = await writeBertFixtures(root);
    whisper = await writeWhisperFixture(join(root, 'whisper'));
    const models = join(root, 'models');
    const ids = { datatype: 'INT64', shape: [-1] };
    const common = { inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, ...ids })), maxBatchSize: 8 };
    await writeManifest(models, 'bert-mini', {
      ...common,
      task: 'feature-extraction',
      source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
      outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, HIDDEN] }],
      parameters: { pooling: 'mean', normalize: true },
    });
    await writeManifest(models, 'sentiment', {
      ...common,
      task: 'text-classification',
      source: { huggingface: fx.classifier.dir, file: 'onnx/model.onnx' },
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [SENTIMENT_LABELS.length] }],
    });
    await writeManifest(models, 'ner', {
      ...common,
      task: 'token-classification',
      source: { huggingface: fx.tagger.dir, file: 'onnx/model.onnx' },
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, NER_LABELS.length] }],
    });
    await writeManifest(models, 'whisper-tiny', whisperManifest(whisper));
    await cp(join(ROOT, 'models', 'math-symbols'), join(models, 'math-symbols'), { recursive: true });
    t = await startTestApp({ LATHE_MODELS_DIR: models });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const meanL2 = (text: string) => {
    const tokens = bertEncoder(fx.weights, wordPieceEncode(fx.tokenizer, text).ids);
    const mean = tokens[0]!.map((_, k) => tokens.reduce((s, v) => s + v[k]!, 0) / tokens.length);
    const n = Math.hypot(...mean);
    return mean.map((x) => x / n);
  };

  it('featureExtraction: one vector for a string, one per text for a list, unnormalised when asked', async () => {
    const hf = client('/v1/embeddings?model=bert-mini');
    const one = await hf.featureExtraction({ inputs: TEXTS[0]! });
    assert.ok(one.every((x) => typeof x === 'number'));
    close(one as number[], meanL2(TEXTS[0]!), 'single');
    const many = (await hf.featureExtraction({ inputs: TEXTS })) as number[][];
    assert.equal(many.length, TEXTS.length);
    TEXTS.forEach((text, i) => close(many[i]!, meanL2(text), `batch ${i}`));
    const raw = (await hf.featureExtraction({ inputs: TEXTS[1]!, normalize: false })) as number[];
    const tokens = bertEncoder(fx.weights, wordPieceEncode(fx.tokenizer, TEXTS[1]!).ids);
    close(
      raw,
      tokens[0]!.map((_, k) => tokens.reduce((s, v) => s + v[k]!, 0) / tokens.length),
      'normalize false',
    );
  });

  it('textClassification: every label best first, as softmax of the reference logits; top_k and function_to_apply', async () => {
    const hf = client('/v1/text/classify?model=sentiment');
    const answer = await hf.textClassification({ inputs: TEXTS[0]! });
    const probs = softmax(bertSequenceLogits(fx.weights, wordPieceEncode(fx.tokenizer, TEXTS[0]!).ids));
    const expected = SENTIMENT_LABELS.map((label, i) => ({ label, score: probs[i]! })).sort((a, b) => b.score - a.score);
    assert.deepEqual(
      answer.map((x) => x.label),
      expected.map((x) => x.label),
    );
    close(
      answer.map((x) => x.score),
      expected.map((x) => x.score),
      'scores',
    );
    const top = await hf.textClassification({ inputs: TEXTS[0]!, parameters: { top_k: 1, function_to_apply: 'none' } });
    assert.equal(top.length, 1);
    assert.equal(top[0]!.label, expected[0]!.label);
    const logits = bertSequenceLogits(fx.weights, wordPieceEncode(fx.tokenizer, TEXTS[0]!).ids);
    close([top[0]!.score], [Math.max(...logits)], 'logit');
  });

  it("tokenClassification: grouped entities (aggregation simple), equal to Lathe's own body's answer", async () => {
    const hf = client('/v1/text/tokens?model=ner');
    const answer = await hf.tokenClassification({ inputs: TEXTS[1]! });
    const own = await request(t.server).post('/v1/text/tokens').send({ model: 'ner', inputs: TEXTS[1], aggregation_strategy: 'simple' });
    assert.equal(own.status, 200);
    assert.ok(answer.length > 0);
    assert.deepEqual(answer, own.body);
    for (const e of answer) assert.deepEqual(Object.keys(e).sort(), ['end', 'entity_group', 'score', 'start', 'word']);
    const first = await hf.tokenClassification({ inputs: TEXTS[1]!, parameters: { aggregation_strategy: 'first', ignore_labels: [] } });
    const ownFirst = await request(t.server)
      .post('/v1/text/tokens')
      .send({ model: 'ner', inputs: TEXTS[1], aggregation_strategy: 'first', ignore_labels: [] });
    assert.deepEqual(first, ownFirst.body);
  });

  it("imageClassification: the image as the body, [{label, score}] as Lathe's route gives", async () => {
    const png = await drawPng(DRAWINGS[0]!.strokes);
    const answer = await client('/v1/vision/classify?model=math-symbols').imageClassification({
      inputs: new Blob([new Uint8Array(png)], { type: 'image/png' }),
    });
    const own = await request(t.server).post('/v1/vision/classify?model=math-symbols').set('content-type', 'image/png').send(png);
    assert.equal(answer.length, 5);
    assert.equal(answer[0]!.label, DRAWINGS[0]!.symbol);
    assert.deepEqual(answer, own.body);
    // Hugging Face's JSON form of the same request: base64 inputs and parameters.
    const json = await request(t.server)
      .post('/v1/vision/classify?model=math-symbols')
      .send({ inputs: png.toString('base64'), parameters: { top_k: 2 } });
    assert.equal(json.status, 200, JSON.stringify(json.body));
    assert.deepEqual(json.body, own.body.slice(0, 2));
  });

  it("automaticSpeechRecognition: the recording as the body, {text} as the model's transcript", async () => {
    const tone = Float32Array.from({ length: RATE * 2 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / RATE));
    const answer = await client('/v1/audio/transcriptions?model=whisper-tiny').automaticSpeechRecognition({
      inputs: new Blob([wavFile(tone)], { type: 'audio/wav' }),
    });
    assert.deepEqual(answer, { text: whisper.expectedText });
  });

  it('answers a Hugging Face body that names no model with 400, which the client reports', async () => {
    const hf = new InferenceClient('', { retry_on_error: false }).endpoint(`${base}/v1/text/classify`);
    await assert.rejects(hf.textClassification({ inputs: 'hello' }), (err: { httpResponse: { status: number; body: unknown } }) => {
      assert.equal(err.httpResponse.status, 400);
      const message = 'no model named: put it in the URL (?model=NAME) or in the body ("model")';
      assert.deepEqual((err.httpResponse.body as { error: unknown }).error, {
        code: 'VALIDATION_FAILED',
        message,
        type: 'invalid_request_error',
        param: 'model',
        details: [{ field: 'model', problems: [message] }],
      });
      return true;
    });
  });
});

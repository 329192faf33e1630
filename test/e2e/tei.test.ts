/**
 * text-embeddings-inference's routes with the bodies of TEI's OpenAPI document, on generated
 * Hub-layout BERT models: an encoder (with sentence-transformers prompts), a three-label classifier
 * and a one-label cross-encoder. Vectors and logits are checked against the plain-TypeScript
 * reference, /rerank's order and scores against Transformers.js running the same folder.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutoModelForSequenceClassification, AutoTokenizer, env, Tensor, type Tensor as HfTensor } from '@huggingface/transformers';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  type BertFixtures,
  CROSS_ENCODER_LABELS,
  MAX_POSITIONS,
  SENTIMENT_LABELS,
  writeBertFixtures,
  writeCrossEncoderFixture,
  writeSpladeFixture,
} from '../support/hf-fixtures.js';
import { spladeManifest } from '../support/example-models.js';
import { bertEncoder, bertSequenceLogits, softmax, wordPieceEncode } from '../support/hf-reference.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir } from '../support/processes.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;

/** Outputs must match the references within this. */
const TOLERANCE = 1e-4;
const HIDDEN = 32;
const TEXTS = ['The movie was great', 'I hate the food at this café in München!'];
const QUERY = 'what is the best food in paris';
const PASSAGES = [
  'the food in paris is good',
  'john smith visited london yesterday',
  'the best food in the city is at this place in paris',
  'microsoft is a company',
  'a terrible movie',
];

const close = (actual: readonly number[], expected: readonly number[], what: string) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i]!)));
  assert.ok(worst <= TOLERANCE, `${what}: max abs diff ${worst}`);
};
const mean = (rows: number[][]) => rows[0]!.map((_, k) => rows.reduce((s, v) => s + v[k]!, 0) / rows.length);
const l2 = (v: readonly number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe("text-embeddings-inference's routes (TEI's OpenAPI bodies)", () => {
  let root: string;
  let fx: BertFixtures;
  let reranker: { dir: string };
  let splade: Awaited<ReturnType<typeof writeSpladeFixture>>;
  let t: TestApp;

  before(async () => {
    root = await makeTempDir('lathe-tei-');
    fx = await writeBertFixtures(root);
    reranker = await writeCrossEncoderFixture(join(root, 'cross-encoder'));
    splade = await writeSpladeFixture(join(root, 'splade'));
    // sentence-transformers' prompts, as a model that has them ships them.
    await writeFile(
      join(fx.encoder.dir, 'config_sentence_transformers.json'),
      JSON.stringify({ prompts: { query: 'query: ', passage: 'passage: ' }, default_prompt_name: null }),
    );
    const models = join(root, 'models');
    const ids = { datatype: 'INT64', shape: [-1] };
    const common = { inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, ...ids })), maxBatchSize: 4 };
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
    await writeManifest(models, 'reranker', {
      ...common,
      task: 'text-classification',
      source: { huggingface: reranker.dir, file: 'onnx/model.onnx' },
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [1] }],
    });
    await writeManifest(models, 'splade', spladeManifest(splade.dir, splade.decoder.out));
    t = await startTestApp({ LATHE_MODELS_DIR: models, LATHE_TEI_MODEL: 'bert-mini' });
  });
  after(async () => {
    await t?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: object) => request(t.server).post(path).send(body);
  const ids = (text: string) => wordPieceEncode(fx.tokenizer, text).ids;
  const pooled = (text: string) => mean(bertEncoder(fx.weights, ids(text)));

  function expectTeiError(res: request.Response, status: number, errorType: string, message: string | RegExp) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['error', 'error_type']);
    assert.equal(res.body.error_type, errorType);
    if (typeof message === 'string') assert.equal(res.body.error, message);
    else assert.match(res.body.error, message);
  }

  it('/embed: mean-pooled unit vectors (or not, with normalize false), a list for one input too, prompts and dimensions', async () => {
    const batch = await post('/tei/bert-mini/embed', { inputs: TEXTS });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.equal(batch.headers['x-model'], 'bert-mini');
    assert.equal(batch.body.length, 2);
    TEXTS.forEach((text, i) => close(batch.body[i], l2(pooled(text)), `inputs[${i}]`));
    const one = await post('/tei/bert-mini/embed', { inputs: TEXTS[0], normalize: false });
    assert.equal(one.body.length, 1);
    close(one.body[0], pooled(TEXTS[0]!), 'normalize false');
    // The root route serves LATHE_TEI_MODEL.
    assert.deepEqual((await post('/embed', { inputs: TEXTS })).body, batch.body);
    const prompted = await post('/tei/bert-mini/embed', { inputs: [TEXTS[0]], prompt_name: 'query' });
    close(prompted.body[0], l2(pooled(`query: ${TEXTS[0]}`)), 'prompt query');
    const cut = await post('/tei/bert-mini/embed', { inputs: [TEXTS[1]], dimensions: 8 });
    close(cut.body[0], l2(l2(pooled(TEXTS[1]!)).slice(0, 8)), 'dimensions 8');
    const tokens = await post('/tei/bert-mini/embed', { inputs: ids(TEXTS[0]!) });
    close(tokens.body[0], batch.body[0], 'token ids');
    expectTeiError(
      await post('/tei/bert-mini/embed', { inputs: Array(257).fill('x') }),
      413,
      'Validation',
      '257 inputs in one request; at most 256 (the TEI routes take at most this many inputs per request)',
    );
    expectTeiError(
      await post('/tei/bert-mini/embed', { inputs: 'x', prompt_name: 'document' }),
      400,
      'Validation',
      `prompt_name "document" is not one of model "bert-mini"'s prompts (query, passage)`,
    );
  });

  it('/embed: too long is 413 unless truncate; truncation_direction Left keeps the end', async () => {
    const words = Array.from({ length: MAX_POSITIONS + 10 }, (_, i) => ['one', 'two', 'three'][i % 3]).join(' ');
    expectTeiError(
      await post('/tei/bert-mini/embed', { inputs: words }),
      413,
      'Validation',
      /^input 0 has 76 tokens; model "bert-mini" takes at most 64/,
    );
    const full = ids(words);
    const right = await post('/tei/bert-mini/embed', { inputs: words, truncate: true });
    const left = await post('/tei/bert-mini/embed', { inputs: words, truncate: true, truncation_direction: 'Left' });
    const kept = (cut: number[]) => l2(mean(bertEncoder(fx.weights, cut)));
    close(right.body[0], kept([...full.slice(0, MAX_POSITIONS - 1), full.at(-1)!]), 'right');
    close(left.body[0], kept([full[0]!, ...full.slice(full.length - MAX_POSITIONS + 1)]), 'left');
  });

  it("/embed_all: every token's vector", async () => {
    const res = await post('/tei/bert-mini/embed_all', { inputs: TEXTS });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    TEXTS.forEach((text, i) => {
      const expected = bertEncoder(fx.weights, ids(text));
      assert.equal(res.body[i].length, expected.length);
      close(res.body[i].flat(), expected.flat(), `tokens of inputs[${i}]`);
    });
  });

  it("/embed_sparse: a SPLADE model's non-zero entries, max over tokens of log(1 + relu(logits)); a dense model is refused", async () => {
    const { decoder } = splade;
    const reference = (text: string) => {
      const hidden = bertEncoder(splade.weights, ids(text));
      const pooled = new Array<number>(decoder.out).fill(0);
      for (const row of hidden)
        for (let k = 0; k < decoder.out; k += 1) {
          let x = decoder.b[k]!;
          for (let i = 0; i < decoder.in; i += 1) x += row[i]! * decoder.w[i * decoder.out + k]!;
          pooled[k] = Math.max(pooled[k]!, Math.log1p(Math.max(0, x)));
        }
      return pooled;
    };
    const res = await post('/tei/splade/embed_sparse', { inputs: TEXTS });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    TEXTS.forEach((text, i) => {
      const expected = reference(text);
      const entries = res.body[i] as Array<{ index: number; value: number }>;
      const nonZero = expected.flatMap((value, index) => (value > TOLERANCE ? [index] : []));
      // Sparse indeed: most of the vocabulary is 0.
      assert.ok(nonZero.length > 3 && nonZero.length < decoder.out / 2, `${nonZero.length} of ${decoder.out} entries`);
      const dense = new Array<number>(decoder.out).fill(0);
      for (const e of entries) {
        assert.deepEqual(Object.keys(e), ['index', 'value']);
        assert.ok(e.value > 0);
        dense[e.index] = e.value;
      }
      close(dense, expected, `sparse vector of inputs[${i}]`);
    });
    // /embed on the same model gives the dense form of the same vector.
    const dense = await post('/embed?model=splade', { inputs: TEXTS[0], normalize: false });
    close(dense.body[0], reference(TEXTS[0]!), 'dense splade');
    expectTeiError(
      await post('/tei/bert-mini/embed_sparse', { inputs: 'x' }),
      400,
      'Validation',
      'model "bert-mini" gives no sparse embeddings: /embed_sparse needs a SPLADE model (a masked-LM whose manifest says "pooling": "splade"); use /embed',
    );
  });

  it('/rerank orders passages as Transformers.js scores them with the same cross-encoder folder', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(reranker.dir);
    const model = await AutoModelForSequenceClassification.from_pretrained(reranker.dir, { dtype: 'fp32', local_files_only: true });
    let logits: number[];
    try {
      const inputs = tokenizer(
        PASSAGES.map(() => QUERY),
        { text_pair: PASSAGES, padding: true, truncation: true },
      );
      const out = (await model(inputs)) as { logits: HfTensor };
      logits = (out.logits.tolist() as number[][]).map((row) => row[0]!);
    } finally {
      await model.dispose();
    }
    const expected = logits.map((logit, index) => ({ index, score: sigmoid(logit) })).sort((a, b) => b.score - a.score);
    // Scores far enough apart that the order is the model's, not the tolerance's.
    expected.slice(1).forEach((r, i) => assert.ok(expected[i]!.score - r.score > 10 * TOLERANCE, JSON.stringify(expected)));
    const res = await post('/tei/reranker/rerank', { query: QUERY, texts: PASSAGES });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.map((r: { index: number }) => r.index),
      expected.map((r) => r.index),
    );
    for (const r of res.body) assert.deepEqual(Object.keys(r).sort(), ['index', 'score']);
    close(
      res.body.map((r: { score: number }) => r.score),
      expected.map((r) => r.score),
      'sigmoid scores',
    );
    const raw = await post('/tei/reranker/rerank', { query: QUERY, texts: PASSAGES, raw_scores: true, return_text: true });
    assert.deepEqual(
      raw.body.map((r: { index: number; text: string }) => [r.index, r.text]),
      expected.map((r) => [r.index, PASSAGES[r.index]]),
    );
    close(
      raw.body.map((r: { score: number }) => r.score),
      expected.map((r) => logits[r.index]!),
      'raw scores',
    );
    expectTeiError(await post('/tei/reranker/rerank', { query: QUERY, texts: [] }), 400, 'Empty', '`texts` cannot be empty');
    expectTeiError(
      await post('/tei/sentiment/rerank', { query: QUERY, texts: PASSAGES }),
      400,
      'Validation',
      'model "sentiment" is not a re-ranker: a cross-encoder has one label, this classifier has 3 labels (use /predict)',
    );
  });

  it('/rerank cuts a long pair to the model limit with truncate (longest first), and refuses it without', async () => {
    const long = Array.from({ length: 80 }, () => 'good').join(' ');
    expectTeiError(await post('/tei/reranker/rerank', { query: QUERY, texts: [long] }), 413, 'Validation', /^input 0 has 90 tokens/);
    const res = await post('/tei/reranker/rerank', { query: QUERY, texts: [long], raw_scores: true, truncate: true });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const q = ids(QUERY).slice(1, -1);
    const p = ids(long)
      .slice(1, -1)
      .slice(0, MAX_POSITIONS - 3 - q.length);
    const pair = [2, ...q, 3, ...p, 3];
    const types = [0, ...q.map(() => 0), 0, ...p.map(() => 1), 1];
    const model = await AutoModelForSequenceClassification.from_pretrained(reranker.dir, { dtype: 'fp32', local_files_only: true });
    try {
      // The ids and segments Hugging Face's longest_first truncation keeps, run by Transformers.js.
      const tensor = (values: number[]) => new Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
      const out = (await model({ input_ids: tensor(pair), attention_mask: tensor(pair.map(() => 1)), token_type_ids: tensor(types) })) as {
        logits: HfTensor;
      };
      close([res.body[0].score], [(out.logits.tolist() as number[][])[0]![0]!], 'truncated pair');
    } finally {
      await model.dispose();
    }
  });

  it('/predict: every label best first for a text, a pair and a batch; raw_scores gives logits', async () => {
    const scored = (logits: number[]) =>
      softmax(logits)
        .map((score, i) => ({ label: SENTIMENT_LABELS[i]!, score }))
        .sort((a, b) => b.score - a.score);
    const single = await post('/tei/sentiment/predict', { inputs: TEXTS[0] });
    assert.equal(single.status, 200, JSON.stringify(single.body));
    const expected = scored(bertSequenceLogits(fx.weights, ids(TEXTS[0]!)));
    assert.deepEqual(
      single.body.map((p: { label: string }) => p.label),
      expected.map((p) => p.label),
    );
    close(
      single.body.map((p: { score: number }) => p.score),
      expected.map((p) => p.score),
      'single',
    );
    const a = ids(TEXTS[0]!);
    const b = ids(TEXTS[1]!).slice(1);
    const pairLogits = bertSequenceLogits(fx.weights, [...a, ...b], undefined, [...a.map(() => 0), ...b.map(() => 1)]);
    const pair = await post('/tei/sentiment/predict', { inputs: [TEXTS[0], TEXTS[1]] });
    close(
      pair.body.map((p: { score: number }) => p.score),
      scored(pairLogits).map((p) => p.score),
      'pair',
    );
    const batch = await post('/predict', { inputs: [[TEXTS[0]], [TEXTS[0], TEXTS[1]]] }).set('x-model', 'sentiment');
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.deepEqual(batch.body, [single.body, pair.body]);
    const raw = await post('/tei/sentiment/predict', { inputs: TEXTS[0], raw_scores: true });
    const logits = bertSequenceLogits(fx.weights, ids(TEXTS[0]!));
    close(
      raw.body.map((p: { label: string; score: number }) => p.score),
      raw.body.map((p: { label: string }) => logits[SENTIMENT_LABELS.indexOf(p.label)]!),
      'raw',
    );
    expectTeiError(
      await post('/tei/sentiment/predict', { inputs: ['a', 'b', 'c'] }),
      400,
      'Validation',
      'a list of strings in inputs must be a pair: [text, text_pair]',
    );
  });

  it('/tokenize gives TEI tokens with UTF-8 byte offsets; /decode gives the text back', async () => {
    const text = TEXTS[1]!;
    const res = await post('/tei/bert-mini/tokenize', { inputs: text });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const tokens = res.body[0] as Array<{ id: number; text: string; special: boolean; start: number | null; stop: number | null }>;
    assert.deepEqual(
      tokens.map((k) => k.id),
      ids(text),
    );
    assert.deepEqual(tokens[0], { id: 2, text: '[CLS]', special: true, start: null, stop: null });
    assert.deepEqual(tokens.at(-1), { id: 3, text: '[SEP]', special: true, start: null, stop: null });
    const bytes = Buffer.from(text, 'utf8');
    for (const k of tokens.slice(1, -1)) {
      assert.equal(k.special, false);
      assert.equal(bytes.subarray(k.start!, k.stop!).toString('utf8'), k.text, JSON.stringify(k));
    }
    const cafe = tokens.find((k) => k.text === 'café')!;
    assert.deepEqual([cafe.start, cafe.stop], [bytes.indexOf('café'), bytes.indexOf('café') + 5]);
    const plain = await post('/tei/bert-mini/tokenize', { inputs: ['the movie'], add_special_tokens: false });
    assert.deepEqual(plain.body, [
      [
        { id: ids('the')[1], text: 'the', special: false, start: 0, stop: 3 },
        { id: ids('movie')[1], text: 'movie', special: false, start: 4, stop: 9 },
      ],
    ]);
    const decoded = await post('/tei/bert-mini/decode', { ids: ids('the movie was great') });
    assert.deepEqual(decoded.body, ['the movie was great']);
    const both = await post('/decode', { ids: [ids('the movie'), ids('paris')], skip_special_tokens: false });
    assert.deepEqual(both.body, ['[CLS] the movie [SEP]', '[CLS] paris [SEP]']);
    assert.deepEqual((await post('/decode', { ids: [] })).body, ['']);
    assert.deepEqual((await post('/decode', { ids: [[], ids('paris')] })).body, ['', 'paris']);
    expectTeiError(
      await post('/decode', { ids: [1_000_000] }),
      400,
      'Validation',
      /^ids\[0\] has token id 1000000; model "bert-mini" has \d+ tokens$/,
    );
  });

  it("/info describes each model's type and limits", async () => {
    const info = await request(t.server).get('/tei/reranker/info');
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.deepEqual(
      { ...info.body, version: 'v' },
      {
        model_id: 'reranker',
        model_sha: null,
        model_dtype: 'float32',
        model_type: { reranker: { id2label: { 0: CROSS_ENCODER_LABELS[0] }, label2id: { [CROSS_ENCODER_LABELS[0]!]: 0 } } },
        served_model_name: 'reranker',
        max_concurrent_requests: 128,
        max_input_length: MAX_POSITIONS,
        max_batch_tokens: 4 * MAX_POSITIONS,
        max_batch_requests: 4,
        max_client_batch_size: 256,
        auto_truncate: false,
        tokenization_workers: 1,
        version: 'v',
        sha: null,
        docker_label: null,
      },
    );
    const root = await request(t.server).get('/info');
    assert.deepEqual(root.body.model_type, { embedding: { pooling: 'mean' } });
    assert.equal(root.body.model_id, 'bert-mini');
    const classifier = await request(t.server).get('/info').set('x-model', 'sentiment');
    assert.deepEqual(Object.keys(classifier.body.model_type), ['classifier']);
    expectTeiError(await request(t.server).get('/tei/nope/info'), 404, 'Validation', /nope/);
  });
});

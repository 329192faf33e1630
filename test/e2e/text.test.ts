import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type BertFixtures, MAX_POSITIONS, NER_LABELS, SENTIMENT_LABELS, writeBertFixtures } from '../support/hf-fixtures.js';
import { bertEncoder, bertSequenceLogits, bertTokenLogits, softmax, wordPieceEncode } from '../support/hf-reference.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir } from '../support/processes.js';
import { rm } from 'node:fs/promises';

/** Outputs must match the plain-TypeScript reference forward pass within this. */
const TOLERANCE = 1e-4;
const HIDDEN = 32;
const ids = { datatype: 'INT64', shape: [-1] } as const;

/** Manifests for the generated fixtures, as `lathe models pull` writes them for Hub models. */
async function textRepository(root: string, fx: BertFixtures): Promise<string> {
  const dir = `${root}/models`;
  const inputs = ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, ...ids }));
  const common = { inputs, maxBatchSize: 8, dynamicBatching: { maxQueueDelayMicroseconds: 2000 }, instances: 1 };
  await writeManifest(dir, 'bert-mini', {
    ...common,
    task: 'feature-extraction',
    source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, HIDDEN] }],
    parameters: { pooling: 'mean', normalize: true },
  });
  // Waits (up to 10 s) for 8 rows: concurrent requests run as one worker call.
  await writeManifest(dir, 'bert-mini-merged', {
    ...common,
    task: 'feature-extraction',
    source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
    dynamicBatching: { preferredBatchSizes: [8], maxQueueDelayMicroseconds: 10_000_000 },
    outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, HIDDEN] }],
    parameters: { pooling: 'mean', normalize: true },
  });
  await writeManifest(dir, 'bert-mini-cls', {
    ...common,
    task: 'feature-extraction',
    source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, HIDDEN] }],
    parameters: { pooling: 'cls', normalize: false },
  });
  await writeManifest(dir, 'sentiment', {
    ...common,
    task: 'text-classification',
    source: { huggingface: fx.classifier.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [SENTIMENT_LABELS.length] }],
  });
  await writeManifest(dir, 'ner', {
    ...common,
    task: 'token-classification',
    source: { huggingface: fx.tagger.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, NER_LABELS.length] }],
  });
  return dir;
}

const close = (actual: readonly number[], expected: readonly number[], what: string) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i]!)));
  assert.ok(worst <= TOLERANCE, `${what}: max abs diff ${worst}`);
};

const l2 = (v: readonly number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

const TEXTS = ['The movie was great', 'I hate the food at this café in München!', 'John Smith visited Paris', '東京 and Zürich'];

describe('text routes on generated Hugging Face-layout models', () => {
  let root: string;
  let fx: BertFixtures;
  let t: TestApp;
  before(async () => {
    root = await makeTempDir('lathe-text-');
    fx = await writeBertFixtures(root);
    t = await startTestApp({ LATHE_MODELS_DIR: await textRepository(root, fx) });
  });
  after(async () => {
    await t.close();
    await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: object) => request(t.server).post(path).send(body);

  it("embeds like the reference (mean pooling, L2), singly and in a batch, with OpenAI's response shape", async () => {
    const single = await post('/v1/embeddings', { model: 'bert-mini', input: TEXTS[0] });
    assert.equal(single.status, 200, JSON.stringify(single.body));
    const enc0 = wordPieceEncode(fx.tokenizer, TEXTS[0]!);
    assert.deepEqual(Object.keys(single.body).sort(), ['data', 'model', 'object', 'usage']);
    assert.equal(single.body.object, 'list');
    assert.equal(single.body.model, 'bert-mini');
    assert.deepEqual(single.body.usage, { prompt_tokens: enc0.ids.length, total_tokens: enc0.ids.length });
    const batch = await post('/v1/embeddings', { model: 'bert-mini', input: TEXTS });
    assert.equal(batch.status, 200);
    const data = batch.body.data as Array<{ object: string; index: number; embedding: number[] }>;
    assert.deepEqual(
      data.map((d) => [d.object, d.index]),
      TEXTS.map((_, i) => ['embedding', i]),
    );
    TEXTS.forEach((text, i) => {
      const tokens = bertEncoder(fx.weights, wordPieceEncode(fx.tokenizer, text).ids);
      const mean = tokens[0]!.map((_, k) => tokens.reduce((s, v) => s + v[k]!, 0) / tokens.length);
      close(data[i]!.embedding, l2(mean), `embedding of ${JSON.stringify(text)}`);
    });
    close(single.body.data[0].embedding, data[0]!.embedding, 'single vs batch');
    const total = TEXTS.reduce((n, text) => n + wordPieceEncode(fx.tokenizer, text).ids.length, 0);
    assert.deepEqual(batch.body.usage, { prompt_tokens: total, total_tokens: total });
  });

  it('merges concurrent requests of any lengths into one worker call, each answered as alone, a refused one alone refused', async () => {
    const mean = (text: string) => {
      const tokens = bertEncoder(fx.weights, wordPieceEncode(fx.tokenizer, text).ids);
      return l2(tokens[0]!.map((_, k) => tokens.reduce((s, v) => s + v[k]!, 0) / tokens.length));
    };
    // 40 tokens against 5 to 12: the worker runs the rows in two groups of similar length.
    const longer = Array(38).fill('the').join(' ');
    const tooLong = Array(MAX_POSITIONS * 2)
      .fill('the')
      .join(' ');
    const inputs = [[TEXTS[0]!, TEXTS[1]!], ['ok', tooLong, 'fine'], [longer], [TEXTS[3]!, TEXTS[2]!]];
    const replies = await Promise.all(inputs.map((input) => post('/v1/embeddings', { model: 'bert-mini-merged', input })));
    for (const i of [0, 2, 3]) {
      const reply = replies[i]!;
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      inputs[i]!.forEach((text, k) => close(reply.body.data[k].embedding, mean(text), `request ${i} input ${k}`));
      const tokens = inputs[i]!.reduce((n, text) => n + wordPieceEncode(fx.tokenizer, text).ids.length, 0);
      assert.deepEqual(reply.body.usage, { prompt_tokens: tokens, total_tokens: tokens });
    }
    assert.equal(replies[1]!.status, 413);
    assert.equal(replies[1]!.body.error.code, 'INPUT_TOO_LONG');
    assert.match(replies[1]!.body.error.message, /^input 1 has 130 tokens; model "bert-mini-merged" takes at most 64/);
    const stats = (await request(t.server).get('/v2/models/bert-mini-merged/stats')).body.model_stats[0];
    assert.equal(stats.execution_count, 1);
    assert.equal(stats.inference_count, 8);
  });

  it('numbers a refused input by its place in the request when the request spans several worker calls', async () => {
    // maxBatchSize 8: inputs 0-7 go in one call, 8-9 in another.
    const input = [
      ...Array(9).fill('ok'),
      Array(MAX_POSITIONS * 2)
        .fill('the')
        .join(' '),
    ];
    const reply = await post('/v1/embeddings', { model: 'bert-mini', input });
    assert.equal(reply.status, 413);
    assert.match(reply.body.error.message, /^input 9 has 130 tokens/);
    const fine = await post('/v1/embeddings', { model: 'bert-mini', input: [...Array(9).fill('ok'), TEXTS[1]] });
    assert.equal(fine.status, 200);
    assert.deepEqual(
      fine.body.data.map((d: { index: number }) => d.index),
      [...Array(10).keys()],
    );
    close(
      fine.body.data[9].embedding,
      (await post('/v1/embeddings', { model: 'bert-mini', input: TEXTS[1] })).body.data[0].embedding,
      'input 9 vs alone',
    );
  });

  it('pools by the first token, keeps the first `dimensions` renormalised, and answers base64 float32', async () => {
    const cls = await post('/v1/embeddings', { model: 'bert-mini-cls', input: [TEXTS[2]] });
    close(cls.body.data[0].embedding, bertEncoder(fx.weights, wordPieceEncode(fx.tokenizer, TEXTS[2]!).ids)[0]!, 'CLS vector');
    const full = (await post('/v1/embeddings', { model: 'bert-mini', input: TEXTS[1] })).body.data[0].embedding as number[];
    const cut = await post('/v1/embeddings', { model: 'bert-mini', input: TEXTS[1], dimensions: 8, encoding_format: 'base64' });
    const bytes = Buffer.from(cut.body.data[0].embedding as string, 'base64');
    const vector = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    close(vector, l2(full.slice(0, 8)), 'dimensions 8');
    const tokens = await post('/v1/embeddings', { model: 'bert-mini', input: wordPieceEncode(fx.tokenizer, TEXTS[0]!).ids });
    close(
      tokens.body.data[0].embedding,
      (await post('/v1/embeddings', { model: 'bert-mini', input: TEXTS[0] })).body.data[0].embedding,
      'token-array input',
    );
  });

  it('classifies text like the reference, top_k best first', async () => {
    const res = await post('/v1/text/classify', { model: 'sentiment', inputs: TEXTS, top_k: 3 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const lists = res.body as Array<Array<{ label: string; score: number }>>;
    TEXTS.forEach((text, i) => {
      const probs = softmax(bertSequenceLogits(fx.weights, wordPieceEncode(fx.tokenizer, text).ids));
      const order = [0, 1, 2].sort((a, b) => probs[b]! - probs[a]!);
      assert.deepEqual(
        lists[i]!.map((p) => p.label),
        order.map((k) => SENTIMENT_LABELS[k]),
      );
      close(
        lists[i]!.map((p) => p.score),
        order.map((k) => probs[k]!),
        `scores of ${JSON.stringify(text)}`,
      );
    });
    const single = await post('/v1/text/classify', { model: 'sentiment', inputs: TEXTS[0] });
    assert.deepEqual(single.body, [lists[0]![0]]);
  });

  it('labels tokens like the reference with start/end that slice the original text, non-ASCII included', async () => {
    for (const text of TEXTS) {
      const res = await post('/v1/text/tokens', { model: 'ner', inputs: text, ignore_labels: [] });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const entities = res.body as Array<{ entity: string; score: number; index: number; word: string; start: number; end: number }>;
      const enc = wordPieceEncode(fx.tokenizer, text);
      const logits = bertTokenLogits(fx.weights, enc.ids);
      const expected = enc.ids.flatMap((_, i) => {
        const offsets = enc.offsets[i];
        if (!offsets) return [];
        const probs = softmax(logits[i]!);
        const best = probs.indexOf(Math.max(...probs));
        return [{ entity: NER_LABELS[best]!, score: probs[best]!, index: i, word: enc.tokens[i]!, start: offsets[0], end: offsets[1] }];
      });
      assert.deepEqual(
        entities.map(({ score, ...rest }) => rest),
        expected.map(({ score, ...rest }) => rest),
        text,
      );
      close(
        entities.map((e) => e.score),
        expected.map((e) => e.score),
        `token scores of ${JSON.stringify(text)}`,
      );
      for (const e of entities) {
        const piece = text
          .slice(e.start, e.end)
          .normalize('NFD')
          .replace(/\p{Mn}/gu, '')
          .toLowerCase();
        if (e.word !== '[UNK]')
          assert.equal(
            piece,
            e.word
              .replace(/^##/, '')
              .normalize('NFD')
              .replace(/\p{Mn}/gu, ''),
            `${text}: ${JSON.stringify(e)}`,
          );
      }
    }
  });

  it('groups entities with the simple strategy, each group spanning its tokens', async () => {
    const text = TEXTS[2]!;
    const none = (await post('/v1/text/tokens', { model: 'ner', inputs: text, ignore_labels: [] })).body as Array<{
      entity: string;
      start: number;
      end: number;
    }>;
    const simple = (await post('/v1/text/tokens', { model: 'ner', inputs: [text], aggregation_strategy: 'simple', ignore_labels: [] }))
      .body as Array<Array<{ entity_group: string; start: number; end: number }>>;
    assert.equal(simple.length, 1);
    const groups = simple[0]!;
    assert.equal(groups[0]!.start, none[0]!.start);
    assert.equal(groups.at(-1)!.end, none.at(-1)!.end);
    for (const g of groups)
      assert.ok(
        NER_LABELS.some((l) => l.endsWith(g.entity_group)),
        g.entity_group,
      );
  });

  it('refuses bad input with a clear 4xx', async () => {
    const long = Array(MAX_POSITIONS * 2)
      .fill('the')
      .join(' ');
    const cases: Array<{ path: string; body: object; status: number; code: string; message: RegExp }> = [
      {
        path: '/v1/embeddings',
        body: { model: 'bert-mini', input: '' },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /input is an empty string/,
      },
      {
        path: '/v1/embeddings',
        body: { model: 'bert-mini', input: Array(10_000).fill('a') },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /10000 inputs; at most 2048/,
      },
      {
        path: '/v1/embeddings',
        body: { model: 'bert-mini', input: long },
        status: 413,
        code: 'INPUT_TOO_LONG',
        message: /130 tokens; model "bert-mini" takes at most 64 .*truncate/,
      },
      {
        path: '/v1/embeddings',
        body: { model: 'bert-mini', input: ['ok', 'bad \ud800 text'] },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /input\[1\] has an unpaired UTF-16 surrogate \(\\ud800\) at index 4/,
      },
      { path: '/v1/embeddings', body: { model: 'nope', input: 'x' }, status: 404, code: 'MODEL_NOT_FOUND', message: /"nope"/ },
      {
        path: '/v1/embeddings',
        body: { model: 'sentiment', input: 'x' },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /text-classification model; this route needs feature-extraction/,
      },
      {
        path: '/v1/text/classify',
        body: { model: 'ner', inputs: 'x' },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /token-classification model/,
      },
      {
        path: '/v1/text/tokens',
        body: { model: 'ner', inputs: [''] },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /inputs\[0\] is an empty string/,
      },
      {
        path: '/v1/embeddings',
        body: { model: 'bert-mini', input: [999_999] },
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /token id 999999/,
      },
    ];
    for (const c of cases) {
      const res = await post(c.path, c.body);
      assert.equal(res.status, c.status, `${JSON.stringify(c.body).slice(0, 80)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, c.code);
      assert.match(res.body.error.message, c.message);
    }
    // truncate: the long input is cut to the model's 64 positions, keeping its closing [SEP].
    const cut = await post('/v1/embeddings', { model: 'bert-mini', input: long, truncate: true });
    assert.equal(cut.status, 200);
    assert.equal(cut.body.usage.prompt_tokens, MAX_POSITIONS);
    assert.equal((await request(t.server).get('/health/ready')).status, 200);
  });
});

/**
 * The generated Hub-layout fixtures load in Transformers.js exactly like downloaded models, and
 * their ONNX graphs agree with the plain-TypeScript reference: per real token within 1e-4, on a
 * right-padded batch of different lengths and on each input alone.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutoConfig, AutoTokenizer, env, pipeline, type PreTrainedTokenizer, type Tensor as HfTensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import {
  type BertFixtures,
  type Fixture,
  MAX_POSITIONS,
  NER_LABELS,
  SENTIMENT_LABELS,
  SPECIAL_TOKENS,
  writeBertFixtures,
} from './hf-fixtures.js';
import { bertEncoder, bertSequenceLogits, bertTokenLogits, softmax, wordPieceEncode } from './hf-reference.js';
import { maxAbsDiff } from './models.js';
import { makeTempDir } from './processes.js';

// Local directories only: an absolute path is read as a path, never as a Hub model id.
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;

const TOLERANCE = 1e-4;
const TEXTS = [
  'I love this movie!',
  'The service was terrible, and the food was worse than yesterday.',
  'John Smith visited Paris and München in 2024.',
  'Café in 東京 costs €5.',
  'Zu\u0308rich? OK', // NFD ü: not in the vocabulary, so the word is one [UNK]
  'Hello [SEP] İstanbul',
];
/** Longer than the model's 64 positions: the tokenizer truncates it and every position embedding is used. */
const LONG = Array.from({ length: 12 }, (_, i) => `Day ${i + 1} in London was good.`).join(' ');

let root: string;
let fx: BertFixtures;
let tokenizer: PreTrainedTokenizer;

before(async () => {
  root = await makeTempDir('lathe-hf-fixtures-');
  fx = await writeBertFixtures(root, 7);
  tokenizer = await AutoTokenizer.from_pretrained(fx.encoder.dir);
});
after(() => rm(root, { recursive: true, force: true }));

type Batch = { input_ids: HfTensor; attention_mask: HfTensor; token_type_ids: HfTensor };

function encodeBatch(texts: string[]): Batch {
  return tokenizer(texts, { padding: true, truncation: true }) as unknown as Batch;
}

function rows(t: HfTensor): number[][] {
  return (t.tolist() as bigint[][]).map((r) => r.map(Number));
}

async function runModel(fixture: Fixture, batch: Batch): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(join(fixture.dir, 'onnx/model.onnx'));
  try {
    const feed = (t: HfTensor) => new ort.Tensor('int64', t.data as BigInt64Array, t.dims);
    const out = await session.run({
      input_ids: feed(batch.input_ids),
      attention_mask: feed(batch.attention_mask),
      token_type_ids: feed(batch.token_type_ids),
    });
    return Object.values(out)[0]!;
  } finally {
    await session.release();
  }
}

/** Item `b` of a [batch, ...] output, flattened (a view, no copy). */
function item(t: ort.Tensor, b: number): Float32Array {
  const size = t.dims.slice(1).reduce((n, d) => n * d, 1);
  return (t.data as Float32Array).subarray(b * size, (b + 1) * size);
}

describe('hf fixtures: layout and tokenizer', () => {
  it('writes the Transformers.js Hub layout for each model', async () => {
    for (const f of [fx.encoder, fx.classifier, fx.tagger]) {
      assert.deepEqual((await readdir(f.dir)).sort(), ['config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
      assert.deepEqual(await readdir(join(f.dir, 'onnx')), ['model.onnx']);
    }
  });

  it('is the same bytes for the same seed', async () => {
    const again = await makeTempDir('lathe-hf-fixtures-');
    try {
      await writeBertFixtures(again, 7);
      const model = (dir: string) => readFile(join(dir, 'token-classifier/onnx/model.onnx'));
      assert.deepEqual(await model(again), await model(root));
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });

  it('AutoTokenizer gives the ids, tokens and zero token types of the reference WordPiece', () => {
    assert.equal(tokenizer.constructor.name, 'BertTokenizer');
    for (const text of TEXTS) {
      const ref = wordPieceEncode(fx.tokenizer, text);
      const enc = tokenizer(text) as unknown as Batch;
      assert.deepEqual(rows(enc.input_ids)[0], ref.ids, text);
      assert.deepEqual(
        rows(enc.token_type_ids)[0],
        ref.ids.map(() => 0),
        text,
      );
      assert.deepEqual(tokenizer.tokenize(text), ref.tokens.slice(1, -1), text);
    }
  });

  it('maps tokens back to spans of the original text', () => {
    const text = 'Café in 東京 costs €5.';
    const ref = wordPieceEncode(fx.tokenizer, text);
    assert.deepEqual(ref.tokens, ['[CLS]', 'café', 'in', '東', '京', 'cost', '##s', '€', '##5', '.', '[SEP]']);
    assert.deepEqual(ref.offsets, [null, [0, 4], [5, 7], [8, 9], [9, 10], [11, 15], [15, 16], [17, 18], [18, 19], [19, 20], null]);
    for (const t of TEXTS) {
      const { tokens, offsets } = wordPieceEncode(fx.tokenizer, t);
      tokens.forEach((token, i) => {
        const span = offsets[i];
        if (span === null || SPECIAL_TOKENS.includes(token)) return;
        assert.equal(t.slice(...span).toLowerCase(), token.replace(/^##/, ''), `${t}: ${token}`);
      });
    }
    const unknown = wordPieceEncode(fx.tokenizer, TEXTS[4]!);
    assert.deepEqual([unknown.tokens[1], unknown.offsets[1]], ['[UNK]', [0, 7]]);
    const special = wordPieceEncode(fx.tokenizer, TEXTS[5]!);
    assert.deepEqual(special.tokens.slice(1, 4), ['hello', '[SEP]', '[UNK]']);
    assert.deepEqual(special.offsets.slice(1, 4), [
      [0, 5],
      [6, 11],
      [12, 20],
    ]);
  });

  it('AutoConfig reads the labels and the problem type', async () => {
    const classifier = (await AutoConfig.from_pretrained(fx.classifier.dir)) as unknown as Record<string, unknown>;
    assert.deepEqual(classifier.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
    assert.deepEqual(classifier.label2id, { negative: 0, neutral: 1, positive: 2 });
    assert.equal(classifier.problem_type, 'single_label_classification');
    assert.equal(classifier.model_type, 'bert');
    const tagger = (await AutoConfig.from_pretrained(fx.tagger.dir)) as unknown as Record<string, Record<string, string>>;
    assert.deepEqual(Object.values(tagger.id2label!), NER_LABELS);
    assert.deepEqual(fx.classifier.labels, SENTIMENT_LABELS);
    assert.equal(tokenizer.model_max_length, MAX_POSITIONS);
  });
});

describe('hf fixtures: ONNX Runtime against the reference', () => {
  const cases = [
    { name: 'encoder', fixture: () => fx.encoder, perToken: true, reference: (ids: number[]) => bertEncoder(fx.weights, ids) },
    {
      name: 'sequence classifier',
      fixture: () => fx.classifier,
      perToken: false,
      reference: (ids: number[]) => [bertSequenceLogits(fx.weights, ids)],
    },
    { name: 'token classifier', fixture: () => fx.tagger, perToken: true, reference: (ids: number[]) => bertTokenLogits(fx.weights, ids) },
  ];
  for (const c of cases) {
    it(`${c.name}: a padded batch matches the reference per real token, and each input alone`, async () => {
      const texts = [...TEXTS, LONG];
      const batch = encodeBatch(texts);
      const ids = rows(batch.input_ids);
      const masks = rows(batch.attention_mask);
      const lengths = masks.map((m) => m.reduce((s, v) => s + v, 0));
      assert.equal(new Set(lengths).size, texts.length, 'every text has its own length');
      assert.equal(Math.max(...lengths), MAX_POSITIONS);
      const out = await runModel(c.fixture(), batch);
      const width = out.dims.at(-1)!;
      for (let b = 0; b < texts.length; b += 1) {
        const expected = c.reference(ids[b]!.slice(0, lengths[b]!));
        const got = item(out, b).subarray(0, expected.length * width);
        assert.ok(maxAbsDiff(got, expected.flat()) < TOLERANCE, `${texts[b]}: ${maxAbsDiff(got, expected.flat())}`);
        const alone = item(await runModel(c.fixture(), encodeBatch([texts[b]!])), 0);
        assert.equal(alone.length, c.perToken ? lengths[b]! * width : width);
        assert.ok(maxAbsDiff(got, alone) < TOLERANCE, `${texts[b]} batched vs alone: ${maxAbsDiff(got, alone)}`);
      }
    });
  }
});

describe('hf fixtures: sentence pairs', () => {
  it('the encoder uses token type 1 for the second sequence, as the reference does', async () => {
    const batch = tokenizer('John lives in Paris', { text_pair: 'He works at Google' }) as unknown as Batch;
    const [ids, types] = [rows(batch.input_ids)[0]!, rows(batch.token_type_ids)[0]!];
    assert.deepEqual(types, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const out = await runModel(fx.encoder, batch);
    assert.ok(maxAbsDiff(item(out, 0), bertEncoder(fx.weights, ids, undefined, types).flat()) < TOLERANCE);
    assert.ok(maxAbsDiff(item(out, 0), bertEncoder(fx.weights, ids).flat()) > 0.01, 'token types change the output');
  });
});

describe('hf fixtures: Transformers.js pipelines load them', () => {
  const options = { dtype: 'fp32', device: 'cpu' } as const;

  it('feature-extraction returns the reference hidden states', async () => {
    const extract = await pipeline('feature-extraction', fx.encoder.dir, options);
    try {
      const out = await extract(TEXTS[3]!);
      const expected = bertEncoder(fx.weights, wordPieceEncode(fx.tokenizer, TEXTS[3]!).ids).flat();
      assert.ok(maxAbsDiff(out.data as Float32Array, expected) < TOLERANCE);
    } finally {
      await extract.dispose();
    }
  });

  it('text-classification returns the reference label and softmax score', async () => {
    const classify = await pipeline('text-classification', fx.classifier.dir, options);
    try {
      for (const text of TEXTS) {
        const probs = softmax(bertSequenceLogits(fx.weights, wordPieceEncode(fx.tokenizer, text).ids));
        const best = probs.indexOf(Math.max(...probs));
        const [top] = (await classify(text)) as Array<{ label: string; score: number }>;
        assert.equal(top!.label, SENTIMENT_LABELS[best]);
        assert.ok(Math.abs(top!.score - probs[best]!) < TOLERANCE);
      }
    } finally {
      await classify.dispose();
    }
  });

  it('token-classification tags every non-O token with the reference argmax', async () => {
    const tag = await pipeline('token-classification', fx.tagger.dir, options);
    let entities = 0;
    try {
      for (const text of TEXTS) {
        const ref = wordPieceEncode(fx.tokenizer, text);
        const expected = bertTokenLogits(fx.weights, ref.ids).flatMap((logits, index) => {
          const label = NER_LABELS[logits.indexOf(Math.max(...logits))]!;
          // The pipeline drops every special token ([UNK] included): it decodes each id skipping specials.
          const skip = label === 'O' || SPECIAL_TOKENS.includes(ref.tokens[index]!);
          return skip ? [] : [{ entity: label, index, score: Math.max(...softmax(logits)) }];
        });
        const got = (await tag(text)) as Array<{ entity: string; index: number; score: number }>;
        assert.deepEqual(
          got.map((e) => [e.entity, e.index]),
          expected.map((e) => [e.entity, e.index]),
          text,
        );
        got.forEach((e, i) => assert.ok(Math.abs(e.score - expected[i]!.score) < TOLERANCE));
        entities += got.length;
      }
      assert.ok(entities > 5, 'the texts produce both O and entity tokens');
    } finally {
      await tag.dispose();
    }
  });
});

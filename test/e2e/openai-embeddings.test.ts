import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startTestApp, type TestApp } from '../support/app.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir, ROOT } from '../support/processes.js';
import { metricValue } from '../support/prometheus.js';

const cosine = (a: readonly number[], b: readonly number[]) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(na * nb);
};

/**
 * glove-100d as `npm test` prepares it (pretest runs models:prepare) in the project's repository,
 * its shipped manifest with the largest inline budget (5 ms): on a CI machine running test files
 * side by side, the HTTP thread is preempted often enough that three calls over the shipped 2 ms
 * would end inline execution before the test has counted its calls.
 */
describe('the official openai client against /v1/embeddings with glove-100d', () => {
  let t: TestApp;
  let client: OpenAI;
  let base: string;
  let models: string;
  before(async () => {
    models = await makeTempDir('lathe-openai-embeddings-');
    const shipped = JSON.parse(await readFile(join(ROOT, 'models/glove-100d/1/model.json'), 'utf8')) as { inline: object };
    await writeManifest(models, 'glove-100d', {
      ...shipped,
      source: { huggingface: join(ROOT, 'models/glove-100d/1/hf'), file: 'onnx/model.onnx' },
      inline: { ...shipped.inline, budgetMs: 5 },
    });
    t = await startTestApp({ LATHE_MODELS_DIR: models });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'not-checked-without-LATHE_API_KEYS', maxRetries: 0 });
  });
  after(async () => {
    await t.close();
    await rm(models, { recursive: true, force: true });
  });

  it('gets unit vectors of 100 dimensions that put related words closer', async () => {
    const words = ['cat', 'kitten', 'stock market', 'king', 'queen', 'bicycle'];
    const response = await client.embeddings.create({ model: 'glove-100d', input: words });
    assert.equal(response.object, 'list');
    assert.equal(response.model, 'glove-100d');
    assert.deepEqual(
      response.data.map((d) => d.index),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(response.usage, { prompt_tokens: 7, total_tokens: 7 });
    const v = Object.fromEntries(words.map((w, i) => [w, response.data[i]!.embedding]));
    for (const w of words) {
      assert.equal(v[w]!.length, 100);
      assert.ok(Math.abs(Math.hypot(...v[w]!) - 1) < 1e-5, `${w} is not unit length`);
    }
    const catKitten = cosine(v.cat!, v.kitten!);
    const catStock = cosine(v.cat!, v['stock market']!);
    const kingQueen = cosine(v.king!, v.queen!);
    const kingBicycle = cosine(v.king!, v.bicycle!);
    assert.ok(catKitten > catStock, `cos(cat, kitten) ${catKitten} <= cos(cat, stock market) ${catStock}`);
    assert.ok(kingQueen > kingBicycle, `cos(king, queen) ${kingQueen} <= cos(king, bicycle) ${kingBicycle}`);
  });

  it("answers a lone request on the main thread (its manifest's `inline`), with the vectors the workers give", async () => {
    const inlineRuns = async () =>
      metricValue(await (await fetch(`${base}/metrics`)).text(), 'lathe_model_inline_runs_total', 'glove-100d');
    const texts = ['a quiet cat', 'the stock market fell', 'king and queen', 'a red bicycle', 'kitten', 'queen', 'market', 'cat'];
    const before = await inlineRuns();
    const alone: number[][] = [];
    for (const text of texts) alone.push((await client.embeddings.create({ model: 'glove-100d', input: text })).data[0]!.embedding);
    assert.equal((await inlineRuns()) - before, texts.length);
    // Nine inputs in one request are more than the manifest's maxRows (8): a worker answers them.
    const many = await client.embeddings.create({ model: 'glove-100d', input: [...texts, 'cat'] });
    assert.equal((await inlineRuns()) - before, texts.length);
    // So is one text of more characters than the inline limit (maxElements, 4,096 by default).
    const long = await client.embeddings.create({ model: 'glove-100d', input: 'cat '.repeat(1100) });
    assert.equal((await inlineRuns()) - before, texts.length);
    assert.ok(
      long.data[0]!.embedding.every((x, j) => Math.abs(x - alone[7]![j]!) <= 1e-6),
      'the mean of one word repeated is that word',
    );
    for (const [i, vector] of alone.entries()) {
      const other = many.data[i]!.embedding;
      assert.ok(
        vector.every((x, j) => Math.abs(x - other[j]!) <= 1e-6),
        `${texts[i]}: the main thread's vector differs from the worker's`,
      );
    }
  });

  it('answers base64 (the client decodes it) and dimensions, as OpenAI does', async () => {
    const plain = await client.embeddings.create({ model: 'glove-100d', input: 'a quiet river at dawn', encoding_format: 'float' });
    // Without encoding_format the client asks for base64 and decodes it to floats itself.
    const decoded = await client.embeddings.create({ model: 'glove-100d', input: 'a quiet river at dawn' });
    assert.deepEqual(
      decoded.data[0]!.embedding.map((x) => Math.fround(x)),
      plain.data[0]!.embedding.map((x) => Math.fround(x)),
    );
    const short = await client.embeddings.create({
      model: 'glove-100d',
      input: 'a quiet river at dawn',
      dimensions: 16,
      encoding_format: 'float',
    });
    assert.equal(short.data[0]!.embedding.length, 16);
    assert.ok(Math.abs(Math.hypot(...short.data[0]!.embedding) - 1) < 1e-5);
  });

  it("surfaces Lathe errors as the client's API errors", async () => {
    await assert.rejects(
      client.embeddings.create({ model: 'no-such-model', input: 'x' }),
      (err: unknown) => err instanceof OpenAI.NotFoundError,
    );
    await assert.rejects(
      client.embeddings.create({ model: 'glove-100d', input: '' }),
      (err: unknown) => err instanceof OpenAI.BadRequestError,
    );
  });
});

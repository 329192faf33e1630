import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readGloveVectors } from './glove-vectors.js';

/** A file in wink's layout: 2 dimensions, then the L2 norm and the word's rank. */
function winkFile(words: string[], options: { swap?: boolean } = {}): string {
  const vectors = words.map((w, i) => [w, [i + 0.5, i === 0 ? 0 : -i, Math.hypot(i + 0.5, i), i]] as const);
  if (options.swap) [vectors[1], vectors[2]] = [vectors[2]!, vectors[1]!];
  return JSON.stringify({
    precision: 8,
    l2NormIndex: 2,
    wordIndex: 3,
    size: words.length,
    dimensions: 2,
    words,
    vectors: Object.fromEntries(vectors),
    unkVector: [0, 0, 0, -1],
  });
}

describe('readGloveVectors', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lathe-glove-vectors-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function read(name: string, text: string, maxWords: number, accept?: (w: string) => boolean) {
    const path = join(dir, name);
    await writeFile(path, text);
    return readGloveVectors(path, maxWords, accept);
  }

  it('keeps the first words in order, escaped ones included', async () => {
    const v = await read('small.json', winkFile(['the', '"', '\\', 'vectors', 'cat']), 10);
    assert.deepEqual(v.words, ['the', '"', '\\', 'vectors', 'cat']);
    assert.deepEqual(Array.from(v.table), [0.5, 0, 1.5, -1, 2.5, -2, 3.5, -3, 4.5, -4]);
    assert.deepEqual(
      { dimensions: v.dimensions, sourceWords: v.sourceWords, scanned: v.scanned },
      { dimensions: 2, sourceWords: 5, scanned: 5 },
    );
  });

  it('stops at maxWords accepted words', async () => {
    const v = await read('filtered.json', winkFile(['the', 'u.s.', 'cat', 'dog', 'mat']), 2, (w) => !w.includes('.'));
    assert.deepEqual(v.words, ['the', 'cat']);
    assert.deepEqual(Array.from(v.table), [0.5, 0, 2.5, -2]);
    assert.equal(v.scanned, 3);
  });

  it('reads entries that straddle the 1 MB chunks of a larger file', async () => {
    const words = Array.from({ length: 60_000 }, (_, i) => `w${i}`);
    const v = await read('large.json', winkFile(words), Infinity);
    assert.equal(v.words.length, 60_000);
    assert.deepEqual(Array.from(v.table.subarray(2 * 54_321, 2 * 54_322)), [54_321.5, -54_321]);
  });

  it('refuses vectors out of frequency order', async () => {
    await assert.rejects(
      read('swapped.json', winkFile(['the', 'cat', 'dog'], { swap: true }), 10),
      /vector 1 is "dog", not word 1 \("cat"\)/,
    );
  });

  it('refuses a truncated file and one without vectors', async () => {
    const text = winkFile(['the', 'cat', 'dog']);
    await assert.rejects(
      read('truncated.json', text, 10, undefined).then(() => read('cut.json', text.slice(0, text.indexOf('"dog":[')), 10)),
      /ends inside "vectors" after entry 2/,
    );
    await assert.rejects(read('novectors.json', '{"size":1,"dimensions":2,"wordIndex":3,"words":["the"]}', 10), /no "vectors" object/);
  });
});

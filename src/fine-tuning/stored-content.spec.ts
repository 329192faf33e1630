import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchesEtag, readWhole, sliceStream, StoredContentChanged, type SliceReader } from './stored-content.js';

/** A stored value of `total` bytes (byte i is i % 251), with every read recorded. */
function stored(total: number): { read: SliceReader; reads: Array<[number, number]>; bytes: Buffer; gone: () => void } {
  const bytes = Buffer.from(Array.from({ length: total }, (_, i) => i % 251));
  const reads: Array<[number, number]> = [];
  let present = true;
  return {
    bytes,
    reads,
    gone: () => (present = false),
    read: async (offset, length) => {
      reads.push([offset, length]);
      return present ? bytes.subarray(offset, offset + length) : undefined;
    },
  };
}

describe('sliceStream', () => {
  it('yields the value slice by slice, the last one short', async () => {
    const s = stored(10);
    const chunks: Buffer[] = [];
    for await (const chunk of sliceStream('v', s.read, 10, 4)) chunks.push(chunk as Buffer);
    assert.deepEqual(s.reads, [[0, 4], [4, 4], [8, 2]]);
    assert.ok(Buffer.concat(chunks).equals(s.bytes));
  });

  it('an empty value ends at once without a read', async () => {
    const s = stored(0);
    const chunks: Buffer[] = [];
    for await (const chunk of sliceStream('v', s.read, 0, 4)) chunks.push(chunk as Buffer);
    assert.deepEqual([s.reads, chunks], [[], []]);
  });

  it('a value that goes away fails the stream with StoredContentChanged', async () => {
    const s = stored(12);
    const stream = sliceStream('artifact a', s.read, 12, 4);
    const chunks: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          chunks.push(chunk as Buffer);
          s.gone();
        }
      })(),
      (err: Error) => err instanceof StoredContentChanged && err.message === 'artifact a changed or was deleted while it was being read',
    );
    assert.ok(chunks.length < 3, `${chunks.length} slices before the value went away (one read ahead)`);
  });

  it('a destroyed stream reads nothing more', async () => {
    const s = stored(1000);
    const stream = sliceStream('v', s.read, 1000, 10);
    await new Promise((resolve) => stream.once('readable', resolve));
    stream.destroy();
    const before = s.reads.length;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.reads.length, before);
    assert.ok(before <= 2, `${before} reads`);
  });
});

describe('readWhole', () => {
  it('joins the slices; undefined when the value goes away', async () => {
    const s = stored(9);
    assert.ok((await readWhole(s.read, 9, 4))!.equals(s.bytes));
    s.gone();
    assert.equal(await readWhole(s.read, 9, 4), undefined);
  });
});

describe('matchesEtag', () => {
  const tag = '"abc"';
  for (const [header, expected] of [
    [undefined, false],
    ['', false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['*', true],
    ['"abcd"', false],
    ['abc', false],
  ] as const) {
    it(`${JSON.stringify(header)} -> ${expected}`, () => assert.equal(matchesEtag(header, tag), expected));
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import {
  answerDownload,
  byteRange,
  matchesEtag,
  readWhole,
  sliceStream,
  StoredContentChanged,
  type SliceReader,
} from './stored-content.js';

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
    for await (const chunk of sliceStream('v', s.read, 0, 10, 4)) chunks.push(chunk as Buffer);
    assert.deepEqual(s.reads, [
      [0, 4],
      [4, 4],
      [8, 2],
    ]);
    assert.ok(Buffer.concat(chunks).equals(s.bytes));
  });

  it('a range from the middle reads only its own bytes', async () => {
    const s = stored(20);
    const chunks: Buffer[] = [];
    for await (const chunk of sliceStream('v', s.read, 5, 14, 4)) chunks.push(chunk as Buffer);
    assert.deepEqual(s.reads, [
      [5, 4],
      [9, 4],
      [13, 1],
    ]);
    assert.ok(Buffer.concat(chunks).equals(s.bytes.subarray(5, 14)));
  });

  it('an empty value ends at once without a read', async () => {
    const s = stored(0);
    const chunks: Buffer[] = [];
    for await (const chunk of sliceStream('v', s.read, 0, 0, 4)) chunks.push(chunk as Buffer);
    assert.deepEqual([s.reads, chunks], [[], []]);
  });

  it('a value that goes away fails the stream with StoredContentChanged', async () => {
    const s = stored(12);
    const stream = sliceStream('artifact a', s.read, 0, 12, 4);
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
    const stream = sliceStream('v', s.read, 0, 1000, 10);
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

describe('byteRange', () => {
  for (const [header, total, expected] of [
    [undefined, 10, undefined],
    ['bytes=0-4', 10, { start: 0, end: 5 }],
    ['bytes=3-', 10, { start: 3, end: 10 }],
    ['bytes=-4', 10, { start: 6, end: 10 }],
    ['bytes=-40', 10, { start: 0, end: 10 }],
    ['bytes=8-400', 10, { start: 8, end: 10 }],
    [' bytes = 2 - 2 ', 10, { start: 2, end: 3 }],
    ['bytes=10-', 10, undefined],
    ['bytes=5-4', 10, undefined],
    ['bytes=-0', 10, undefined],
    ['bytes=-', 10, undefined],
    ['bytes=0-1,4-5', 10, undefined],
    ['items=0-1', 10, undefined],
    ['bytes=0-', 0, undefined],
  ] as const) {
    it(`${JSON.stringify(header)} of ${total} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(byteRange(header, total), expected));
  }
});

describe('answerDownload', () => {
  const opened: Array<[number, number]> = [];
  const value = {
    bytes: 10,
    sha256: 'ab',
    headers: { 'content-type': 'x/y' },
    open: (start: number, end: number) => (opened.push([start, end]), Readable.from([])),
  };
  const common = { 'content-type': 'x/y', etag: '"ab"', 'x-content-sha256': 'ab', 'accept-ranges': 'bytes' };
  const answer = (conditions: Parameters<typeof answerDownload>[1]) => {
    opened.length = 0;
    const { content: _content, ...rest } = answerDownload(value, conditions) as {
      content?: Readable;
      status: number;
      headers: Record<string, string>;
    };
    return { ...rest, opened: [...opened] };
  };

  it('everything: 200', () =>
    assert.deepEqual(answer({}), { status: 200, headers: { ...common, 'content-length': '10' }, opened: [[0, 10]] }));
  it('a range: 206 with content-range', () =>
    assert.deepEqual(answer({ range: 'bytes=4-' }), {
      status: 206,
      headers: { ...common, 'content-length': '6', 'content-range': 'bytes 4-9/10' },
      opened: [[4, 10]],
    }));
  it('a range under the current If-Range: 206', () => assert.equal(answer({ range: 'bytes=4-', 'if-range': '"ab"' }).status, 206));
  it('a range under another If-Range: 200, everything', () =>
    assert.deepEqual(answer({ range: 'bytes=4-', 'if-range': '"old"' }).opened, [[0, 10]]));
  it('a matching If-None-Match: 304, nothing opened', () =>
    assert.deepEqual(answer({ 'if-none-match': '"ab"', range: 'bytes=0-1' }), { status: 304, headers: { etag: '"ab"' }, opened: [] }));
});

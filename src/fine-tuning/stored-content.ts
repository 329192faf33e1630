import { Readable } from 'node:stream';

/**
 * Reads `length` bytes of one stored value from `offset` (0-based), or undefined when the row is
 * gone. Repositories implement it with `substring(col FROM off + 1 FOR len)`: pg returns bytea as
 * hex text, twice its size, and cannot hold a string over 512 MB (ERR_STRING_TOO_LONG), so a
 * stored value is never selected whole.
 */
export type SliceReader = (offset: number, length: number) => Promise<Buffer | undefined>;

/** Thrown (or emitted) when a stored value disappears or changes size while it is being read. */
export class StoredContentChanged extends Error {
  constructor(what: string) {
    super(`${what} changed or was deleted while it was being read`);
    this.name = 'StoredContentChanged';
  }
}

/**
 * Bytes `start` (inclusive) to `end` (exclusive) of the value as a stream that reads the next slice
 * only when the consumer asks for it (one slice in flight, one buffered), so a download holds about
 * two slices of memory however large the value, and a destroyed stream (a client that went away)
 * reads nothing more.
 */
export function sliceStream(what: string, read: SliceReader, start: number, end: number, sliceBytes: number): Readable {
  let offset = start;
  return new Readable({
    highWaterMark: sliceBytes,
    read() {
      if (offset >= end) {
        this.push(null);
        return;
      }
      const length = Math.min(sliceBytes, end - offset);
      read(offset, length).then(
        (slice) => {
          if (this.destroyed) return;
          if (!slice || slice.length !== length) {
            this.destroy(new StoredContentChanged(what));
            return;
          }
          offset += length;
          this.push(slice);
        },
        (err: unknown) => this.destroy(err as Error),
      );
    },
  });
}

/**
 * The whole value in one Buffer (for code that needs it all, e.g. a dataset to parse), read slice
 * by slice; undefined when the row went away meanwhile.
 */
export async function readWhole(read: SliceReader, total: number, sliceBytes: number): Promise<Buffer | undefined> {
  const whole = Buffer.allocUnsafe(total);
  for (let offset = 0; offset < total; offset += sliceBytes) {
    const length = Math.min(sliceBytes, total - offset);
    const slice = await read(offset, length);
    if (!slice || slice.length !== length) return undefined;
    slice.copy(whole, offset);
  }
  return whole;
}

/** `"<sha256 hex>"`: the content hash is a strong validator, the same on every replica. */
export function etag(sha256: string): string {
  return `"${sha256}"`;
}

/** Whether an If-None-Match header names this ETag (or is `*`): the client already has these bytes. */
export function matchesEtag(ifNoneMatch: string | undefined, tag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const t = candidate.trim();
    return t === '*' || t.replace(/^W\//, '') === tag;
  });
}

/** What a download answers: the bytes (all, or the range asked for) as a stream, or 304 with no body when the client has them. */
export type Download =
  { status: 200 | 206; headers: Record<string, string>; content: Readable } | { status: 304; headers: Record<string, string> };

/** The request headers a download honours. */
export interface DownloadConditions {
  'if-none-match'?: string;
  range?: string;
  'if-range'?: string;
}

/** A stored value to download: its size and hash, its own headers, and a way to stream bytes [start, end). */
export interface StoredValue {
  bytes: number;
  sha256: string;
  headers: Record<string, string>;
  open(start: number, end: number): Readable;
}

/**
 * The answer to a GET of a stored value: 304 when If-None-Match names its ETag; 206 with
 * Content-Range for one satisfiable byte range (so an interrupted download of a large checkpoint
 * resumes where it stopped); else 200 with everything. A Range this cannot serve (several ranges,
 * past the end, malformed) or an If-Range naming another version gets the whole value, as RFC 9110
 * allows.
 */
export function answerDownload(value: StoredValue, conditions: DownloadConditions): Download {
  const tag = etag(value.sha256);
  const common = { ...value.headers, etag: tag, 'x-content-sha256': value.sha256, 'accept-ranges': 'bytes' };
  if (matchesEtag(conditions['if-none-match'], tag)) return { status: 304, headers: { etag: tag } };
  const ifRange = conditions['if-range']?.trim();
  const range = ifRange === undefined || ifRange === tag ? byteRange(conditions.range, value.bytes) : undefined;
  if (!range) return { status: 200, headers: { ...common, 'content-length': String(value.bytes) }, content: value.open(0, value.bytes) };
  return {
    status: 206,
    headers: {
      ...common,
      'content-length': String(range.end - range.start),
      'content-range': `bytes ${range.start}-${range.end - 1}/${value.bytes}`,
    },
    content: value.open(range.start, range.end),
  };
}

/** One satisfiable `bytes=` range as [start, end), or undefined. */
export function byteRange(header: string | undefined, total: number): { start: number; end: number } | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return suffix > 0 && total > 0 ? { start: Math.max(0, total - suffix), end: total } : undefined;
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? total - 1 : Math.min(Number(m[2]), total - 1);
  return start < total && start <= last ? { start, end: last + 1 } : undefined;
}

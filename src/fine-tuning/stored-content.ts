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
 * The value as a stream that reads the next slice only when the consumer asks for it (one slice in
 * flight, one buffered), so a download holds about two slices of memory however large the value,
 * and a destroyed stream (a client that went away) reads nothing more.
 */
export function sliceStream(what: string, read: SliceReader, total: number, sliceBytes: number): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: sliceBytes,
    read() {
      if (offset >= total) {
        this.push(null);
        return;
      }
      const length = Math.min(sliceBytes, total - offset);
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

/** What a download answers: the bytes as a stream, or 304 with no body when the client has them. */
export type Download = { status: 200; headers: Record<string, string>; content: Readable } | { status: 304; headers: Record<string, string> };

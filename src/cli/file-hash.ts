import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface FileHashes {
  size: number;
  sha256: string;
  /** Git's blob id, `sha1("blob <size>\0" + content)`: what the Hub lists for files not in LFS. */
  gitOid: string;
}

/** Both hashes in one read of the file. */
export async function hashFile(path: string): Promise<FileHashes> {
  const { size } = await stat(path);
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    sha256.update(chunk);
    sha1.update(chunk);
  }
  return { size, sha256: sha256.digest('hex'), gitOid: sha1.digest('hex') };
}

/** What a file must be, from the Hub's listing or, failing that, its download headers. */
export interface Expected {
  size?: number;
  sha256?: string;
  gitOid?: string;
}

/** Why the file is not what the Hub published, or undefined when it is. */
export function mismatch(actual: FileHashes, expected: Expected): string | undefined {
  if (expected.size !== undefined && actual.size !== expected.size) return `${actual.size} bytes, the Hub lists ${expected.size}`;
  if (expected.sha256 && actual.sha256 !== expected.sha256) return `sha256 ${actual.sha256}, the Hub lists ${expected.sha256}`;
  if (expected.gitOid && actual.gitOid !== expected.gitOid) return `git blob id ${actual.gitOid}, the Hub lists ${expected.gitOid}`;
  return undefined;
}

import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { type FileHandle, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { CliError, ExitCode, RetryableError } from './cli-error.js';
import { type Expected, type FileHashes, hashFile, mismatch } from './file-hash.js';
import type { HubSibling } from './file-selection.js';
import { header, type HttpResponse } from './http-get.js';
import { fileMetadata, type HubClient } from './hub-client.js';
import { isAlive } from './model-store.js';
import type { Progress } from './progress.js';

export interface RetryPolicy {
  /** Further attempts after a dropped connection, a timeout, a 5xx or a 429. */
  retries: number;
  /** Wait before retry n (0-based): backoffMs * 2^n. */
  backoffMs: number;
}

export interface FileJob {
  repo: string;
  commit: string;
  sibling: HubSibling;
  /** Where the verified file ends up; partial data waits in `${dest}.incomplete`. */
  dest: string;
}

/** Received data waits in memory up to this much before the connection is paused for the disk. */
const HIGH_WATER = 8 << 20;

/** What the Hub's listing says a file must be: LFS files by sha256, the rest by their git blob id. */
export function expectedOf(sibling: HubSibling): Expected {
  if (sibling.lfs) return { size: sibling.lfs.size, sha256: sibling.lfs.sha256 };
  return { size: sibling.size, gitOid: sibling.blobId };
}

/**
 * Downloads one file, resuming from `${dest}.incomplete` (`Range: bytes=<have>-`, appended on 206,
 * restarted on 200), retrying dropped connections with backoff, then verifies size and hash. A file
 * that fails verification is deleted: resuming a corrupt prefix could never succeed.
 */
export async function downloadFile(hub: HubClient, job: FileJob, policy: RetryPolicy, progress: Progress): Promise<FileHashes> {
  const expected = expectedOf(job.sibling);
  const done = await stat(job.dest).then(
    () => true,
    () => false,
  );
  if (done) {
    // Finished by an earlier run whose install did not happen; trust it only after hashing.
    const hashes = await hashFile(job.dest);
    if (!mismatch(hashes, expected)) return hashes;
    await rm(job.dest, { force: true });
  }
  const partial = `${job.dest}.incomplete`;
  return withLock(`${job.dest}.lock`, job.sibling.rfilename, async () => {
    await withRetries(policy, progress, () => transfer(hub, job, partial, expected, progress)).catch((err: Error) => {
      if (!(err instanceof CliError) || err.exitCode !== ExitCode.Unavailable) throw err;
      throw new CliError(`${err.message}; the partial download is kept: run the pull again to resume`, err.exitCode);
    });
    const hashes = await hashFile(partial);
    const problem = mismatch(hashes, expected);
    if (problem) {
      await rm(partial, { force: true });
      throw new CliError(
        `${job.sibling.rfilename} is corrupt: ${problem}; deleted the download, nothing was installed`,
        ExitCode.DataError,
      );
    }
    await rename(partial, job.dest);
    return hashes;
  });
}

export async function withRetries<T>(policy: RetryPolicy, progress: Progress, attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      if (n >= policy.retries) throw new CliError(`${err.message} (gave up after ${n + 1} attempts)`, ExitCode.Unavailable);
      const wait = policy.backoffMs * 2 ** n;
      progress.note(`${err.message}; retrying in ${(wait / 1000).toFixed(1)} s (${n + 1}/${policy.retries})`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** One attempt: asks for what is missing and appends it, or starts over when the server sends it all. */
async function transfer(hub: HubClient, job: FileJob, partial: string, expected: Expected, progress: Progress): Promise<void> {
  let have = await stat(partial).then(
    (s) => s.size,
    () => 0,
  );
  if (expected.size !== undefined && have > expected.size) have = await restart(partial);
  if (have > 0 && have === expected.size) return;
  // Opened before the request: between the response and the body's listeners nothing may wait for
  // I/O, or a connection dropping meanwhile would take the bytes it delivered (and its error) along.
  // O_NOFOLLOW: a link planted as the partial file after the store checked it is refused, not appended to.
  const file = await open(partial, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW);
  try {
    const res = await hub.open(hub.resolveUrl(job.repo, job.commit, job.sibling.rfilename), job.repo, have);
    const problem = checkResponse(res, have, expected, job);
    if (problem) {
      res.body.resume();
      await file.truncate(0);
      throw problem;
    }
    const from = res.status === 206 ? have : 0;
    const length = Number(header(res.headers, 'content-length') ?? NaN);
    progress.start(job.sibling.rfilename, expected.size ?? (Number.isFinite(length) ? from + length : undefined), from);
    const received = await receive(res.body, file, from === 0 && have > 0, (n) => progress.advance(n)).catch((err: Error) => {
      throw err instanceof CliError ? err : new RetryableError(`${job.sibling.rfilename}: ${err.message} (${res.url})`);
    });
    if (Number.isFinite(length) && received !== length) {
      throw new RetryableError(`${job.sibling.rfilename}: connection closed after ${received} of ${length} bytes (${res.url})`);
    }
    progress.finish();
  } finally {
    await file.close();
  }
}

/** Why this answer cannot be used, after learning what it says about the file. */
function checkResponse(res: HttpResponse, have: number, expected: Expected, job: FileJob): Error | undefined {
  try {
    learnFromHeaders(res, expected, job);
  } catch (err) {
    return err as Error;
  }
  if (res.status === 416) return new RetryableError(`${res.url} refused to resume at byte ${have}`);
  if (res.status === 206 && contentRangeStart(res) !== have) return new RetryableError(`${res.url} resumed at the wrong offset`);
  return undefined;
}

async function restart(partial: string): Promise<0> {
  await truncate(partial, 0).catch(() => undefined);
  return 0;
}

/** Fills in what the listing did not say (mirrors without `?blobs=true`) and checks what it did. */
function learnFromHeaders(res: HttpResponse, expected: Expected, job: FileJob): void {
  const meta = fileMetadata(res.firstHeaders);
  if (meta.commit && meta.commit !== job.commit) {
    throw new CliError(`${job.sibling.rfilename}: the Hub served commit ${meta.commit}, not ${job.commit}`, ExitCode.DataError);
  }
  expected.size ??= meta.size;
  if (meta.etag && /^[0-9a-f]{64}$/.test(meta.etag)) expected.sha256 ??= meta.etag;
  else if (meta.etag && /^[0-9a-f]{40}$/.test(meta.etag) && !expected.sha256) expected.gitOid ??= meta.etag;
}

function contentRangeStart(res: HttpResponse): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * Writes the body in order and resolves with the byte count. Chunks are taken as they arrive
 * (flowing mode) so that when the connection drops, every byte received is on disk and the next
 * attempt resumes exactly there; a paused stream would discard its buffer on the error.
 */
function receive(body: IncomingMessage, file: FileHandle, truncateFirst: boolean, onChunk: (bytes: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const queue: Buffer[] = [];
    let queued = 0;
    let received = 0;
    let written = 0;
    let writing = false;
    let ended = body.readableEnded;
    let diskError: Error | undefined;
    let connectionError: Error | undefined = body.destroyed && !ended ? new Error('connection closed before the body was read') : undefined;
    // The only writer; runs until the queue is empty, then settles once the body has ended or failed.
    const pump = async () => {
      if (writing) return;
      writing = true;
      try {
        if (truncateFirst) {
          truncateFirst = false;
          await file.truncate(0);
        }
        // After a connection error the queue is still written: those bytes arrived.
        for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
          queued -= chunk.length;
          await file.write(chunk);
          written += chunk.length;
          onChunk(chunk.length);
          if (body.isPaused() && queued < HIGH_WATER / 4) body.resume();
        }
      } catch (err) {
        diskError = new CliError(`cannot write the download: ${(err as Error).message}`, ExitCode.Failure);
        queue.length = 0;
        body.destroy();
      }
      writing = false;
      if (diskError) reject(diskError);
      else if (connectionError) reject(connectionError);
      else if (ended) resolve(written);
    };
    body.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      received += chunk.length;
      if (queued > HIGH_WATER) body.pause();
      void pump();
    });
    body.once('end', () => {
      ended = true;
      void pump();
    });
    body.once('error', (err) => {
      connectionError ??= new RetryableError(`connection lost after ${received} bytes: ${err.message}`);
      void pump();
    });
    void pump();
  });
}

/** One download of a file at a time: a second pull of the same file would interleave its bytes. */
async function withLock<T>(lockPath: string, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = Number(await readFile(lockPath, 'utf8').catch(() => ''));
      if (pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new CliError(`another lathe process (pid ${pid}) is downloading ${what}; wait for it to finish`, ExitCode.Unavailable);
      }
      await rm(lockPath, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/** The staging name of a file: its content hash when the Hub gives one, so a retry finds it again. */
export function blobKey(sibling: HubSibling, commit: string): string {
  return sibling.lfs?.sha256 ?? sibling.blobId ?? createHash('sha256').update(`${commit}\0${sibling.rfilename}`).digest('hex');
}

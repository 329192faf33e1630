import { CliError, ExitCode } from './cli-error.js';
import type { HubSibling } from './file-selection.js';

/** What `GET /api/models/{repo}/revision/{revision}?blobs=true` answers, as far as a pull needs it. */
export interface RepoInfo {
  id: string;
  /** The commit the revision resolved to; every file is then fetched at this commit. */
  sha: string;
  siblings: HubSibling[];
  cardData?: { license?: unknown; license_name?: unknown };
}

/** Longest file path and path segment a listing may name (the Hub's own paths are far shorter). */
export const MAX_PATH_CHARS = 512;
const MAX_SEGMENT_CHARS = 255;
/** Letters and digits of any script, and the punctuation repositories use in file names. */
const PATH_CHARS = /^[\p{L}\p{N}._\-+@=,~ ()[\]#%&!'$/]+$/u;
const GIT_OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Checks a listing before any of it becomes a file name. A mirror is not trusted: `rfilename` becomes
 * a path under the model folder, `blobId` and `lfs.sha256` become staging file names, so each must
 * have exactly the shape the Hub gives it, or a hostile listing could write or delete outside.
 */
export function checkInfo(info: unknown, url: string): RepoInfo {
  const i = info as Partial<RepoInfo> | null;
  const bad = (what: string) => new CliError(`${url}: unexpected answer (${what})`, ExitCode.Unavailable);
  if (typeof i !== 'object' || i === null) throw bad('not an object');
  if (typeof i.sha !== 'string' || !/^[0-9a-f]{40}$/.test(i.sha)) throw bad('no commit sha');
  if (!Array.isArray(i.siblings) || i.siblings.some((s) => typeof s?.rfilename !== 'string')) throw bad('no siblings');
  for (const s of i.siblings) {
    const problem = siblingProblem(s);
    if (problem) throw new CliError(`${url}: refused the listing: ${problem}; nothing was downloaded`, ExitCode.DataError);
  }
  return { id: typeof i.id === 'string' ? i.id : '', sha: i.sha, siblings: i.siblings, cardData: i.cardData };
}

/** Why a sibling cannot be used as the Hub describes files, or undefined when it can. */
export function siblingProblem(s: HubSibling): string | undefined {
  const name = JSON.stringify(s.rfilename);
  const path = pathProblem(s.rfilename);
  if (path) return `file name ${name} ${path}`;
  if (s.size !== undefined && !isByteCount(s.size)) return `${name}: size ${JSON.stringify(s.size)} is not a byte count`;
  if (s.blobId !== undefined && (typeof s.blobId !== 'string' || !GIT_OID.test(s.blobId))) {
    return `${name}: blobId ${JSON.stringify(s.blobId)} is not a git object id (40 or 64 lowercase hex)`;
  }
  if (s.lfs !== undefined) {
    if (typeof s.lfs !== 'object' || s.lfs === null) return `${name}: lfs is not an object`;
    if (typeof s.lfs.sha256 !== 'string' || !SHA256.test(s.lfs.sha256)) {
      return `${name}: lfs.sha256 ${JSON.stringify(s.lfs.sha256)} is not a sha256 (64 lowercase hex)`;
    }
    if (!isByteCount(s.lfs.size)) return `${name}: lfs.size ${JSON.stringify(s.lfs.size)} is not a byte count`;
  }
  return undefined;
}

/** Why a repository-relative path could leave the folder it is written to, or undefined. */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (path.length > MAX_PATH_CHARS) return `is longer than ${MAX_PATH_CHARS} characters`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) return 'has a control character';
  if (path.includes('\\')) return 'has a backslash';
  if (path.startsWith('/')) return 'is absolute';
  const segments = path.split('/');
  if (segments.some((p) => p === '.' || p === '..')) return 'has a "." or ".." segment';
  if (segments.some((p) => p === '')) return 'has an empty segment';
  if (segments.some((p) => p.length > MAX_SEGMENT_CHARS)) return `has a segment longer than ${MAX_SEGMENT_CHARS} characters`;
  if (!PATH_CHARS.test(path)) return "has a character outside letters, digits, space and ._-+@=,~()[]#%&!'$";
  return undefined;
}

function isByteCount(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

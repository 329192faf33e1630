import type { IncomingHttpHeaders } from 'node:http';
import { CliError, ExitCode, RetryableError } from './cli-error.js';
import { header, type HttpClient, type HttpResponse } from './http-get.js';
import { checkInfo, type RepoInfo } from './hub-listing.js';

export type { RepoInfo } from './hub-listing.js';

const MAX_INFO_BYTES = 64 * 1024 * 1024;

/** The Hugging Face Hub's HTTP API, as huggingface_hub's `model_info` and `hf_hub_download` use it. */
export class HubClient {
  readonly endpoint: string;

  constructor(
    private readonly http: HttpClient,
    endpoint: string,
    private readonly hasToken: boolean,
  ) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  async repoInfo(repo: string, revision: string): Promise<RepoInfo> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
    const res = await this.http.get(url, { accept: 'application/json' });
    if (res.status !== 200) {
      res.body.resume();
      throw this.failure(res, repo, revision);
    }
    const text = await readText(res, MAX_INFO_BYTES);
    let info: unknown;
    try {
      info = JSON.parse(text);
    } catch {
      throw new CliError(`${url} did not answer JSON: is HF_ENDPOINT (${this.endpoint}) a Hugging Face Hub?`, ExitCode.Unavailable);
    }
    return checkInfo(info, url);
  }

  /** `{endpoint}/{repo}/resolve/{commit}/{path}`: the file, or a redirect to it on a CDN. */
  resolveUrl(repo: string, commit: string, path: string): string {
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Opens a file for reading (from `from` bytes on); 200, 206 and 416 are the caller's to judge. */
  async open(url: string, repo: string, from = 0): Promise<HttpResponse> {
    const res = await this.http.get(url, from > 0 ? { range: `bytes=${from}-` } : {});
    if (res.status === 200 || res.status === 206 || res.status === 416) return res;
    res.body.resume();
    throw this.failure(res, repo);
  }

  /** The Hub's error, in words a user can act on; X-Error-Code tells the 401s and 404s apart. */
  private failure(res: HttpResponse, repo: string, revision?: string): Error {
    const { status } = res;
    const code = header(res.firstHeaders, 'x-error-code') ?? header(res.headers, 'x-error-code');
    const message = header(res.firstHeaders, 'x-error-message') ?? '';
    const where = `${res.url} answered ${status}`;
    const tokenHint = this.hasToken ? 'the token in HF_TOKEN cannot read it' : 'set HF_TOKEN to a token that can read it';
    if (code === 'RepoNotFound' || (status === 404 && revision !== undefined && code === undefined)) {
      return new CliError(`no such model on the Hub: ${repo} (${where}; if it is private, ${tokenHint})`, ExitCode.NotFound);
    }
    if (code === 'RevisionNotFound') return new CliError(`${repo} has no revision "${revision}" (${where})`, ExitCode.NotFound);
    if (code === 'EntryNotFound' || status === 404) return new CliError(`not found on the Hub: ${where}`, ExitCode.NotFound);
    if (code === 'GatedRepo') {
      return new CliError(
        `${repo} is gated: accept its conditions on the Hub, then set HF_TOKEN to a token of that account (${where})`,
        ExitCode.NoPermission,
      );
    }
    if (status === 401 && /invalid credentials/i.test(message)) {
      return new CliError(`the Hub rejected HF_TOKEN as invalid credentials (${where})`, ExitCode.NoPermission);
    }
    if (status === 401 || status === 403)
      return new CliError(`the Hub refused access to ${repo}: ${tokenHint} (${where})`, ExitCode.NoPermission);
    if (status === 429 || status >= 500) return new RetryableError(where);
    return new CliError(where, ExitCode.Unavailable);
  }
}

async function readText(res: HttpResponse, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new CliError(`${res.url}: answer larger than ${limit} bytes`, ExitCode.Unavailable);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new RetryableError(`connection lost reading ${res.url}: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The Hub's own description of the file behind a resolve URL (huggingface_hub's `HfFileMetadata`). */
export function fileMetadata(headers: IncomingHttpHeaders): { commit?: string; etag?: string; size?: number } {
  const etag = header(headers, 'x-linked-etag') ?? header(headers, 'etag');
  const size = header(headers, 'x-linked-size');
  return {
    commit: header(headers, 'x-repo-commit'),
    etag: etag?.replace(/^W\//, '').replace(/"/g, ''),
    size: size === undefined ? undefined : Number(size),
  };
}

import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { RetryableError } from './cli-error.js';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Headers of the first answer, from the Hub itself even when it redirected to a CDN. */
  firstHeaders: IncomingHttpHeaders;
  /** Where the body finally came from. */
  url: string;
  body: IncomingMessage;
}

export interface HttpClientOptions {
  /** Sent as `Authorization: Bearer` to this origin only, never to a redirect target elsewhere. */
  token?: string;
  tokenOrigin: string;
  /** A connection with no data for this long is dropped (and retried by the caller). */
  idleTimeoutMs: number;
  userAgent: string;
}

const MAX_REDIRECTS = 10;

/**
 * GET with redirects followed by hand (node's http does not follow them, and fetch would forward
 * headers we must drop), keep-alive connections, and an idle timeout. The body is left unread.
 */
export class HttpClient {
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(private readonly options: HttpClientOptions) {}

  async get(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    let current = new URL(url);
    let firstHeaders: IncomingHttpHeaders | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const res = await this.once(current, headers);
      firstHeaders ??= res.headers;
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.resume();
        current = new URL(location, current);
        continue;
      }
      return { status: res.statusCode ?? 0, headers: res.headers, firstHeaders, url: current.toString(), body: res };
    }
    throw new RetryableError(`too many redirects fetching ${url}`);
  }

  /** Closes idle keep-alive connections so the process can exit. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private once(url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`cannot fetch ${url} (not http or https)`));
    const all: Record<string, string> = { 'user-agent': this.options.userAgent, 'accept-encoding': 'identity', ...headers };
    if (this.options.token && url.origin === this.options.tokenOrigin) all.authorization = `Bearer ${this.options.token}`;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).get(url, { headers: all, agent: secure ? this.agents.https : this.agents.http });
      req.setTimeout(this.options.idleTimeoutMs, () => {
        req.destroy(new RetryableError(`no data from ${url} for ${this.options.idleTimeoutMs / 1000} s`));
      });
      req.once('response', resolve);
      // `on`, not `once`: a socket error after the response arrived must not go unhandled (the body reports it).
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(err instanceof RetryableError ? err : new RetryableError(`network error fetching ${url}: ${err.code ?? err.message}`));
      });
    });
  }
}

/** One header value (the first, if the header came more than once). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

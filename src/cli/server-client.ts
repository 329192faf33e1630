import { CliError, ExitCode } from './cli-error.js';

/** A running Lathe server's HTTP API, as the CLI calls it: JSON in and out, its API key as a bearer token. */
export class ServerClient {
  readonly base: string;

  constructor(
    url: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(`the server URL "${url}" is not a URL (--url or LATHE_URL, e.g. http://127.0.0.1:3000)`, ExitCode.Usage);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new CliError(`the server URL "${url}" is not an http(s) URL`, ExitCode.Usage);
    }
    this.base = url.replace(/\/+$/, '');
  }

  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const init: RequestInit = body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    return this.send(method, path, init, async (res) => (await res.json()) as T);
  }

  /** A multipart form POST (a file upload). */
  async form<T>(path: string, form: FormData): Promise<T> {
    return this.send('POST', path, { body: form }, async (res) => (await res.json()) as T);
  }

  /** The response to a GET whose body the caller reads as it arrives (the timeout covers the headers only). */
  async stream(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.send('GET', path, { headers }, (res) => Promise.resolve(res));
  }

  private async send<T>(method: string, path: string, init: RequestInit, read: (res: Response) => Promise<T>): Promise<T> {
    const headers = new Headers(init.headers);
    if (this.apiKey) headers.set('authorization', `Bearer ${this.apiKey}`);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const res = await fetch(`${this.base}${path}`, { ...init, method, headers, signal: controller.signal });
      if (!res.ok) throw await errorOf(res, `${method} ${path}`);
      return await read(res);
    } catch (err) {
      if (err instanceof CliError) throw err;
      const { cause, name, message } = err as Error & { cause?: { code?: string; message?: string } };
      const why = name === 'AbortError' ? `no answer in ${this.timeoutMs / 1000} s` : (cause?.code ?? cause?.message ?? message);
      throw new CliError(`cannot reach the server at ${this.base} (${why}); is it running? (--url or LATHE_URL)`, ExitCode.Unavailable);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The server's `{error: {code, message}}` as one line, with an exit code a script can act on. */
async function errorOf(res: Response, what: string): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let code = '';
  let message = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? message;
  } catch {
    // Not the server's JSON (a proxy's page): its first characters say enough.
  }
  const exit =
    res.status === 401 || res.status === 403
      ? ExitCode.NoPermission
      : res.status === 404
        ? ExitCode.NotFound
        : res.status >= 500 || res.status === 429
          ? ExitCode.Unavailable
          : ExitCode.DataError;
  const hint = res.status === 401 ? ' (set --api-key or LATHE_API_KEY)' : '';
  return new CliError(`${what}: ${res.status}${code ? ` ${code}` : ''}: ${message}${hint}`, exit);
}

/** A bounded HTTP load through a load balancer, recording every answer with when it was sent and who served it. */

export interface LoadRequest {
  kind: string;
  path: string;
  /** A fresh body per request (FormData cannot be sent twice). */
  init: () => RequestInit;
}

export interface Sample {
  kind: string;
  /** Date.now() when it was sent, and how long until the whole body had arrived. */
  startedAt: number;
  ms: number;
  /** The HTTP status, or the socket error when no answer came. */
  status: number | 'error';
  error?: string;
  servedBy: string | null;
  retryAfter: string | null;
  body: unknown;
}

export interface LoadOptions {
  /** Concurrent clients, each sending one request at a time. */
  clients: number;
  /** Pause between one client's requests. */
  pauseMs: number;
  /** Hard bounds: no more requests than this in all, none later than maxMs after start(). */
  maxRequests: number;
  maxMs: number;
  /** Per request. */
  timeoutMs: number;
}

export class Load {
  readonly samples: Sample[] = [];
  private stopping = false;
  private running?: Promise<void>;
  private sent = 0;

  constructor(
    private readonly base: string,
    private readonly requests: LoadRequest[],
    private readonly options: LoadOptions,
  ) {}

  start(): void {
    const until = Date.now() + this.options.maxMs;
    const client = async (offset: number) => {
      for (let i = offset; !this.stopping && Date.now() < until && this.sent < this.options.maxRequests; i += 1) {
        this.sent += 1;
        this.samples.push(await this.send(this.requests[i % this.requests.length]!));
        await new Promise((r) => setTimeout(r, this.options.pauseMs));
      }
    };
    this.running = Promise.all(Array.from({ length: this.options.clients }, (_, i) => client(i))).then(() => undefined);
  }

  /** Ends the load once the requests in flight have been answered. */
  async stop(): Promise<Sample[]> {
    this.stopping = true;
    await this.running;
    return this.samples;
  }

  async send(request: LoadRequest): Promise<Sample> {
    const startedAt = Date.now();
    try {
      const res = await fetch(`${this.base}${request.path}`, { ...request.init(), signal: AbortSignal.timeout(this.options.timeoutMs) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text: an HTML error page from the balancer, say.
      }
      return {
        kind: request.kind,
        startedAt,
        ms: Date.now() - startedAt,
        status: res.status,
        servedBy: res.headers.get('x-served-by'),
        retryAfter: res.headers.get('retry-after'),
        body,
      };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      return {
        kind: request.kind,
        startedAt,
        ms: Date.now() - startedAt,
        status: 'error',
        error: cause?.code ?? (err as Error).message,
        servedBy: null,
        retryAfter: null,
        body: null,
      };
    }
  }
}

/** A success, or the documented 429 OVERLOADED with Retry-After. */
export function answered(s: Sample): boolean {
  return (typeof s.status === 'number' && s.status >= 200 && s.status < 300) || (s.status === 429 && s.retryAfter !== null);
}

/** The q-quantile of the latencies (nearest rank). */
export function quantile(samples: Sample[], q: number): number {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Where two JSON values differ beyond `tolerance` for numbers (a path), or undefined when they agree. */
export function differs(actual: unknown, expected: unknown, tolerance: number, path = '$'): string | undefined {
  if (typeof expected === 'number' && typeof actual === 'number') {
    return Math.abs(actual - expected) <= tolerance ? undefined : `${path}: ${actual} vs ${expected}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: length`;
    for (let i = 0; i < expected.length; i += 1) {
      const d = differs(actual[i], expected[i], tolerance, `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: not an object`;
    const keys = Object.keys(expected);
    if (Object.keys(actual).sort().join() !== keys.sort().join()) return `${path}: keys`;
    for (const k of keys) {
      const d = differs((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tolerance, `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return actual === expected ? undefined : `${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`;
}

/**
 * Drives fast-check over every operation through Fastify's inject (no sockets), records per-operation
 * status counts and distinct failures, then replays each failure's first run so fast-check shrinks it.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { type Failure, type FuzzResponse, judge, knownFinding, reproducer, signatureOf } from './fuzz-oracle.js';
import type { FuzzRequest } from './fuzz-requests.js';
import { requestFor } from './fuzz-requests.js';
import type { Operation } from './fuzz-spec.js';
import type { FuzzContext } from './fuzz-values.js';

/** A request that gets no answer in this long counts as a hang. */
const ANSWER_TIMEOUT_MS = 30_000;
/** Time fast-check may spend shrinking one failure. */
const SHRINK_MS = 8_000;
/** LATHE_FUZZ_TRACE=<part of an operation, e.g. "POST /v1/vision/classify">: print every exchange of matching operations. */
const TRACE = process.env.LATHE_FUZZ_TRACE;

export interface OperationStats {
  operation: string;
  requests: number;
  statuses: Map<number, number>;
}

export class FuzzRunner {
  readonly stats = new Map<string, OperationStats>();
  readonly failures = new Map<string, Failure>();

  constructor(
    private readonly fastify: FastifyInstance,
    private readonly ctx: FuzzContext,
    private readonly seed: number,
    /** The server's logged cause for a request id, if it logged one. */
    private readonly serverError: (requestId: string) => string | undefined = () => undefined,
  ) {}

  /** The logged cause of a 5xx (read once per response, and remembered on it). */
  private causeOf(response: FuzzResponse & { cause?: string }): string | undefined {
    const id = response.headers['x-request-id'];
    if (response.cause === undefined && response.statusCode >= 500 && typeof id === 'string') response.cause = this.serverError(id) ?? '';
    return response.cause || undefined;
  }

  /** Each operation gets its own seed, so its requests do not depend on which others ran. */
  seedOf(index: number): number {
    return (this.seed + index * 7919) | 0;
  }

  async send(request: FuzzRequest): Promise<FuzzResponse> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<FuzzResponse>((resolve) => {
      timer = setTimeout(
        () => resolve({ statusCode: 0, headers: {}, body: `no answer within ${ANSWER_TIMEOUT_MS} ms` }),
        ANSWER_TIMEOUT_MS,
      );
    });
    const answer = this.fastify
      .inject({
        method: request.method as 'GET',
        url: request.url,
        headers: request.headers,
        ...(request.payload ? { payload: request.payload } : {}),
      })
      .then((res) => ({ statusCode: res.statusCode, headers: res.headers as FuzzResponse['headers'], body: res.body }));
    try {
      return await Promise.race([answer, hang]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The violation signature of one exchange, or undefined when it is fine. */
  private check(op: Operation, request: FuzzRequest, response: FuzzResponse) {
    const violation = response.statusCode === 0 ? { kind: 'hang', code: '-', detail: response.body } : judge(request, response);
    if (!violation) return undefined;
    // The known finding is part of the signature, so a failure that only looks like one stays apart.
    const cause = this.causeOf(response);
    const known = knownFinding(request, response, cause);
    // The logged cause (ids and numbers blurred) splits different bugs behind the same status.
    const blurred = cause
      ? ` {${cause
          .replace(/"[^"]*"|'[^']*'/g, '…')
          .replace(/[0-9a-f]{8,}|\d+/g, 'N')
          .slice(0, 120)}}`
      : '';
    return { violation, known, signature: `${signatureOf(op.key, response.statusCode, violation)}${known ? ` [${known}]` : ''}${blurred}` };
  }

  async run(op: Operation, index: number, runs: number): Promise<void> {
    const stats: OperationStats = { operation: op.key, requests: 0, statuses: new Map() };
    this.stats.set(op.key, stats);
    let run = 0;
    const property = fc.asyncProperty(requestFor(op, this.ctx), async (request) => {
      const at = run++;
      const response = await this.send(request);
      stats.requests += 1;
      stats.statuses.set(response.statusCode, (stats.statuses.get(response.statusCode) ?? 0) + 1);
      if (TRACE && op.key.includes(TRACE))
        console.log(`${reproducer(request)}\n  -> ${response.statusCode} ${response.body.slice(0, 300)}`);
      const found = this.check(op, request, response);
      if (!found) return true;
      const seen = this.failures.get(found.signature);
      if (seen) seen.count += 1;
      else {
        this.failures.set(found.signature, {
          operation: op.key,
          signature: found.signature,
          violation: found.violation,
          status: response.statusCode,
          ...(found.known ? { known: found.known } : {}),
          serverLog: this.causeOf(response),
          count: 1,
          request,
          response,
          run: at,
          seed: this.seedOf(index),
          op,
        });
      }
      return true;
    });
    await fc.check(property, { seed: this.seedOf(index), numRuns: runs });
  }

  /** Replays each failure's first run and lets fast-check shrink it to a smaller request with the same signature. */
  async shrink(failure: Failure): Promise<void> {
    let last: { request: FuzzRequest; response: FuzzResponse } | undefined;
    const property = fc.asyncProperty(requestFor(failure.op, this.ctx), async (request) => {
      const response = await this.send(request);
      const found = this.check(failure.op, request, response);
      if (found?.signature === failure.signature) {
        last = { request, response };
        return false;
      }
      return true;
    });
    const details = await fc.check(property, { seed: failure.seed, path: String(failure.run), interruptAfterTimeLimit: SHRINK_MS });
    if (details.failed && last) {
      failure.request = details.counterexample?.[0] ?? last.request;
      failure.response = last.response;
      failure.serverLog = this.causeOf(last.response) ?? failure.serverLog;
    }
  }
}

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LifecycleService } from './lifecycle/lifecycle.service.js';
import type { MetricsService } from './metrics/metrics.service.js';
import { declaredQuery } from './common/http/declared-query.js';
import type { LatheRouteConfig } from './common/http/scopes.decorator.js';

const REQUEST_ID_HEADER = 'x-request-id';
const ACCEPTED_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
const QUIET_ROUTES = new Set(['/health/live', '/health/ready', '/metrics']);

/** A caller's x-request-id when it is a sane token, else a new UUID. */
export function requestIdFor(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Per request: the id echoed back (Fastify's request logger binds it to each line the request
 * logs, the error filter's included), the in-flight count that the
 * SIGTERM drain waits on, the query a controller route's code sees, one access-log line and the
 * request metrics.
 */
export function installRequestHooks(fastify: FastifyInstance, lifecycle: LifecycleService, metrics: MetricsService): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    lifecycle.requestStarted();
    metrics.inFlight.inc();
    // 'close' fires once whether the response finished or the client went away.
    reply.raw.once('close', () => {
      lifecycle.requestFinished();
      metrics.inFlight.dec();
    });
    done();
  });
  fastify.addHook('preHandler', (request, _reply, done) => {
    // A controller route's code sees only the query parameters its @ApiEndpoint declares.
    const config = request.routeOptions.config as LatheRouteConfig;
    if (config.auth !== undefined) request.query = declaredQuery(config.query, request.query as Record<string, unknown> | undefined);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = routeLabel(request);
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    const level = QUIET_ROUTES.has(route) && reply.statusCode < 500 ? 'debug' : 'info';
    request.log[level](
      { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
    done();
  });
}

/** The route template, never the raw URL, so metrics keep a bounded label set. */
function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

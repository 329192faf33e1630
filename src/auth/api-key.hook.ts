import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type ApiKey, findApiKey, hasScope } from '../config/api-keys.js';
import { type LatheRouteConfig, type RouteAuth, UNDECLARED_AUTH } from '../common/http/scopes.decorator.js';

export type AuthenticatedRequest = FastifyRequest & { apiKey?: ApiKey };

/**
 * The route's auth rule; `undefined` on routes that are not Lathe's controllers' (docs, 404, CORS
 * preflight), UNDECLARED_AUTH on a controller route that forgot its rule (markUndeclaredRoutes).
 */
export function routeAuthOf(request: FastifyRequest): LatheRouteConfig['auth'] {
  return (request.routeOptions.config as LatheRouteConfig | undefined)?.auth;
}

/**
 * Authenticates in `onRequest`, which runs before Fastify reads the body: an unauthenticated
 * client cannot make the server buffer or parse anything, and learns nothing about the body's
 * shape. With no key configured the service is open.
 */
export function installApiKeyHook(fastify: FastifyInstance, keys: readonly ApiKey[]): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const auth = routeAuthOf(request);
    if (auth === UNDECLARED_AUTH) {
      request.log.error(`${request.method} ${request.routeOptions.url} declares no auth rule (@ApiEndpoint auth)`);
      done(new AppError(ErrorCode.Internal, 'Internal server error'));
      return;
    }
    if (auth === undefined || auth === 'public' || keys.length === 0) {
      done();
      return;
    }
    try {
      (request as AuthenticatedRequest).apiKey = authenticate(keys, request.headers.authorization, auth);
      done();
    } catch (err) {
      // The unread body is not worth reading (and discarding) to keep the connection alive.
      if (hasBody(request)) reply.header('connection', 'close');
      done(err as Error);
    }
  });
}

/** The key presented as `Authorization: Bearer <key>`, if it is known and holds the scope `auth` needs. */
export function authenticate(keys: readonly ApiKey[], authorization: string | undefined, auth: Exclude<RouteAuth, 'public'>): ApiKey {
  const token = bearerToken(authorization);
  if (token === undefined) {
    throw new AppError(ErrorCode.MissingApiKey, 'Send an API key as "Authorization: Bearer <key>"');
  }
  const key = findApiKey(keys, token);
  if (!key) throw new AppError(ErrorCode.InvalidApiKey, 'The API key is not valid');
  if (auth !== 'any' && !hasScope(key, auth)) {
    throw new AppError(ErrorCode.InsufficientScope, `The API key "${key.name}" lacks the "${auth}" scope`, {
      required: auth,
      granted: [...key.scopes].sort(),
    });
  }
  return key;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function hasBody(request: FastifyRequest): boolean {
  return request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
}

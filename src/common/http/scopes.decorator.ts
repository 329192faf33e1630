// Route declarations: here in common/ because the OpenAPI decorator (common/openapi/) sets them
// and the request hooks (auth/, http-hooks.ts) read them.
import { RouteConfig } from '@nestjs/platform-fastify';
import type { z } from 'zod';
import type { Scope } from '../../config/api-keys.js';

/** `public` needs no key; `any` needs any valid key; a scope needs that scope (or admin). */
export type RouteAuth = 'public' | 'any' | Scope;

/**
 * Marks a controller route that declares no RouteAuth (see markUndeclaredRoutes): the onRequest
 * hook refuses it with 500, so a route that forgot its rule stays closed instead of silently open.
 */
export const UNDECLARED_AUTH = 'undeclared';

/** Fastify route config of a controller route: what its request hooks need, read there without Nest's help. */
export interface LatheRouteConfig {
  auth?: RouteAuth | typeof UNDECLARED_AUTH;
  /**
   * The query parameters the route's code sees (declaredQuery); `null` when it declares none, so
   * it sees none.
   */
  query?: z.ZodObject | null;
}

/**
 * Puts the route's auth rule and query schema in its Fastify route config, where the hooks read
 * them: the auth rule in `onRequest`, before any byte of the body is read (Nest's guards run only
 * after the body is parsed), the query in `preHandler`. Fastify route config is one object per
 * route: this is the only place Lathe sets it.
 */
export const DeclareRoute = (config: { auth: RouteAuth; query: z.ZodObject | null }): MethodDecorator =>
  RouteConfig(config satisfies LatheRouteConfig);

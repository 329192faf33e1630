// Route auth declarations: here in common/ because the OpenAPI decorator (common/openapi/) sets them
// and auth/'s hook reads them.
import { RouteConfig } from '@nestjs/platform-fastify';
import type { Scope } from '../../config/api-keys.js';

/** `public` needs no key; `any` needs any valid key; a scope needs that scope (or admin). */
export type RouteAuth = 'public' | 'any' | Scope;

/** Fastify route config carrying a route's RouteAuth; the onRequest hook reads it there. */
export interface AuthRouteConfig {
  auth?: RouteAuth;
}

/**
 * Puts the route's auth rule in its Fastify route config, where an `onRequest` hook reads it
 * before any byte of the body is read. (Nest's guards run only after the body is parsed.)
 * Fastify route config is one object per route: this is the only place Lathe sets it.
 */
export const RequireAuth = (auth: RouteAuth): MethodDecorator => RouteConfig({ auth } satisfies AuthRouteConfig);

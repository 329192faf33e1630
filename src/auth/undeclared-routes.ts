import { Logger } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import { type LatheRouteConfig, UNDECLARED_AUTH } from '../common/http/scopes.decorator.js';

/**
 * Authentication happens in the onRequest hook (api-key.hook.ts), which knows a route's rule from
 * its route config (@ApiEndpoint's `auth`). Before the routes are registered, every controller
 * route that declares none is marked UNDECLARED_AUTH, which the hook refuses: a route that forgot
 * its rule stays closed instead of silently open. Done once here, so no request pays for a guard.
 */
export function markUndeclaredRoutes(modules: ModulesContainer): void {
  const marked: string[] = [];
  for (const module of modules.values()) {
    for (const wrapper of module.controllers.values()) {
      const prototype = (wrapper.metatype as { prototype?: Record<string, unknown> } | null)?.prototype;
      if (!prototype) continue;
      for (const key of Object.getOwnPropertyNames(prototype)) {
        const handler = Object.getOwnPropertyDescriptor(prototype, key)?.value as object | undefined;
        // A route handler carries a path and a method (the class, as `constructor`, only a path).
        if (key === 'constructor' || typeof handler !== 'function') continue;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined || Reflect.getMetadata(METHOD_METADATA, handler) === undefined)
          continue;
        const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as LatheRouteConfig | undefined;
        if (config?.auth !== undefined) continue;
        Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, auth: UNDECLARED_AUTH } satisfies LatheRouteConfig, handler);
        marked.push(`${wrapper.name}.${key}`);
      }
    }
  }
  if (marked.length > 0) new Logger('Auth').error(`routes that declare no auth rule (@ApiEndpoint auth) answer 500: ${marked.join(', ')}`);
}

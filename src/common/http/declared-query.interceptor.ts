import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { DECLARED_QUERY } from '../openapi/api-endpoint.decorator.js';
import { isStrict, shapeKeys } from '../openapi/endpoint-registry.js';

/**
 * A route's code sees only the query parameters its @ApiEndpoint `query` schema declares, so a
 * parameter read in code is always one the OpenAPI document lists. Undeclared parameters are
 * dropped (a route without a query schema sees none), except on strict schemas, whose parser
 * refuses them with 400 as before.
 */
export class DeclaredQueryInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler) {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<FastifyRequest>();
      const schema = this.reflector.get<z.ZodObject | null | undefined>(DECLARED_QUERY, context.getHandler());
      request.query = declaredQuery(schema ?? undefined, request.query as Record<string, unknown> | undefined);
    }
    return next.handle();
  }
}

/** The declared part of a parsed query string; `name[key]` belongs to a declared `name` (deepObject style). */
export function declaredQuery(schema: z.ZodObject | undefined, query: Record<string, unknown> = {}): Record<string, unknown> {
  if (!schema) return {};
  if (isStrict(schema)) return { ...query };
  const names = new Set(shapeKeys(schema));
  return Object.fromEntries(Object.entries(query).filter(([key]) => names.has(key.replace(/\[.*$/, ''))));
}

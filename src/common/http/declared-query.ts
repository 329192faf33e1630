import type { z } from 'zod';
import { isStrict, shapeKeys } from '../openapi/endpoint-registry.js';

/** Each schema's parameter names, worked out on its first request instead of on every one. */
const namesOf = new WeakMap<z.ZodObject, ReadonlySet<string>>();

/**
 * A route's code sees only the query parameters its @ApiEndpoint `query` schema declares, so a
 * parameter read in code is always one the OpenAPI document lists. Undeclared parameters are
 * dropped (a route without a query schema sees none), except on strict schemas, whose parser
 * refuses them with 400 as before. `name[key]` belongs to a declared `name` (deepObject style).
 */
export function declaredQuery(schema: z.ZodObject | null | undefined, query: Record<string, unknown> = {}): Record<string, unknown> {
  if (!schema) return {};
  if (isStrict(schema)) return { ...query };
  let names = namesOf.get(schema);
  if (!names) {
    names = new Set(shapeKeys(schema));
    namesOf.set(schema, names);
  }
  const declared: Record<string, unknown> = {};
  for (const key in query) if (names.has(key.replace(/\[.*$/, ''))) declared[key] = query[key];
  return declared;
}

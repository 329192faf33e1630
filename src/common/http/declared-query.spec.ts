import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { declaredQuery } from './declared-query.js';

const loose = z.object({ limit: z.coerce.number().optional(), metadata: z.record(z.string(), z.string()).optional() });
const strict = loose.strict();

describe('declaredQuery: what a route sees of its query string', () => {
  const cases: Array<[string, z.ZodObject | undefined, Record<string, unknown>, Record<string, unknown>]> = [
    ['no schema: nothing', undefined, { limit: '5', model: 'x' }, {}],
    ['declared keys only', loose, { limit: '5', model: 'x' }, { limit: '5' }],
    ['deepObject keys of a declared object', loose, { 'metadata[team]': 'a', metadatax: 'b' }, { 'metadata[team]': 'a' }],
    ['strict: everything, for its parser to refuse', strict, { limit: '5', model: 'x' }, { limit: '5', model: 'x' }],
    ['no query string', loose, {}, {}],
  ];
  for (const [name, schema, query, seen] of cases) {
    it(name, () => assert.deepEqual(declaredQuery(schema, query), seen));
  }
});

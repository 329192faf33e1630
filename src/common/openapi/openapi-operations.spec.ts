import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { registerEndpoint } from './endpoint-registry.js';
import { applyEndpointSpecs, schemaOf } from './openapi-operations.js';

describe('applyEndpointSpecs', () => {
  it("writes a route's zod params, query, multipart file fields and success schema into its operation", () => {
    registerEndpoint('specUpload', {
      params: z.object({ id: z.string().meta({ example: 'a-1' }), other: z.string() }),
      query: z.object({ limit: z.coerce.number().int().min(1).default(10), tags: z.record(z.string(), z.string()).optional() }),
      form: { files: { file: 'the data' }, fields: z.object({ purpose: z.literal('x') }) },
      ok: { example: { id: 'a-1', n: 2 } },
    });
    const header = { name: 'range', in: 'header' };
    const paths = {
      '/things/{id}': {
        post: {
          operationId: 'specUpload',
          parameters: [{ name: 'id', in: 'path' }, { name: 'version', in: 'path' }, header],
          responses: {},
        },
      },
    };
    applyEndpointSpecs(paths as never);
    const op = paths['/things/{id}'].post as unknown as Record<string, unknown>;
    assert.deepEqual(op.parameters, [
      { name: 'id', in: 'path', required: true, schema: { type: 'string' }, example: 'a-1' },
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, default: 10, maximum: Number.MAX_SAFE_INTEGER },
      },
      {
        name: 'tags',
        in: 'query',
        required: false,
        style: 'deepObject',
        explode: true,
        schema: { type: 'object', additionalProperties: { type: 'string' } },
      },
      header,
    ]);
    assert.deepEqual(op.requestBody, {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            properties: { file: { type: 'string', format: 'binary', description: 'the data' }, purpose: { type: 'string', enum: ['x'] } },
            required: ['file', 'purpose'],
          },
        },
      },
    });
    assert.deepEqual(op.responses, {
      '200': {
        description: 'Success',
        content: {
          'application/json': {
            schema: { type: 'object', properties: { id: { type: 'string' }, n: { type: 'integer' } } },
            example: { id: 'a-1', n: 2 },
          },
        },
      },
    });
  });

  it('refuses a path parameter its params schema does not declare', () => {
    registerEndpoint('specMissing', { params: z.object({ model: z.string() }) });
    const paths = { '/m/{model}/v/{version}': { get: { operationId: 'specMissing', responses: {} } } };
    assert.throws(() => applyEndpointSpecs(paths as never), /path parameter "version" is not in the route's params schema/);
  });

  it('schemaOf describes an example: nested objects, arrays, integers, numbers, null', () => {
    assert.deepEqual(schemaOf({ a: [1.5], b: null, c: true }), {
      type: 'object',
      properties: { a: { type: 'array', items: { type: 'number' } }, b: { nullable: true }, c: { type: 'boolean' } },
    });
  });
});

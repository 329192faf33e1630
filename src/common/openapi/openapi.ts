import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { LATHE_VERSION } from '../version.js';
import { applyEndpointSpecs } from './openapi-operations.js';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Lathe')
    .setDescription(
      'Serves ONNX models over HTTP (Open Inference Protocol v2, task routes, OpenAI-compatible routes) ' +
        'and fine-tunes model heads. Errors outside /v2 are `{"error": {"code", "message", "type", "param", "details"?}, "requestId"}` (`type` and `param` are OpenAI\'s).',
    )
    .setVersion(LATHE_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key from LATHE_API_KEYS' })
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey, methodKey) => methodKey,
  });
  applyEndpointSpecs(document.paths as never);
  return sortKeys(document) as OpenAPIObject;
}

/** Recursively sorted keys, so the committed openapi.json only changes when the API does. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

import type { Type } from '@nestjs/common';
import { z } from 'zod';

/** A multipart form: its file fields (name -> description) and its other fields. */
export interface FormSchema {
  files: Record<string, string>;
  fields: z.ZodObject;
}

/** What a route reads from its request, as zod schemas: the same objects its code parses with. */
export interface RequestSchemas {
  /** Path parameters, one property per `:name` in the route's path. */
  params?: z.ZodObject;
  /** Query parameters; the route's code sees only these (declaredQuery). */
  query?: z.ZodObject;
  /** An application/json body. */
  body?: z.ZodType;
  /** A multipart/form-data body. */
  form?: FormSchema;
  /** Content types whose whole body is the bytes (an image, a recording, binary tensors). */
  raw?: string[];
  /** The body example Swagger UI's "Try it out" starts from (JSON). */
  bodyExample?: unknown;
}

export interface SuccessResponse {
  status?: number;
  description?: string;
  contentType?: string;
  /** Other media types the same success may answer with, chosen by the request (e.g. an image for `Accept: image/png`). */
  alternatives?: Record<string, JsonSchema>;
  /** A zod schema, or a JSON Schema for answers that are not JSON objects (text). */
  schema?: z.ZodType | JsonSchema;
  /** A class documented with @ApiProperty (left to @nestjs/swagger). */
  type?: Type;
  example?: unknown;
}

export interface EndpointSpec extends RequestSchemas {
  ok?: SuccessResponse;
}

/** Declarations by handler name, which is also the operationId (openapi.ts). */
const endpoints = new Map<string, EndpointSpec>();

export function registerEndpoint(operationId: string, spec: EndpointSpec): void {
  const known = endpoints.get(operationId);
  if (known && known !== spec) throw new Error(`two routes declare the operationId "${operationId}"`);
  endpoints.set(operationId, spec);
}

export function endpointSpec(operationId: string): EndpointSpec | undefined {
  return endpoints.get(operationId);
}

export type JsonSchema = Record<string, unknown>;

/** A zod schema as the OpenAPI 3.0 schema of what a client sends (input side of transforms and defaults). */
export function toOpenApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as JsonSchema;
  return json;
}

/** The keys of an object schema: the names a query string or form may carry. */
export function shapeKeys(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape);
}

/** Refuses unknown keys (`.strict()`): then an undeclared key must reach the parser, to be refused there. */
export function isStrict(schema: z.ZodObject): boolean {
  const catchall = (schema.def as { catchall?: z.ZodType }).catchall;
  return catchall?.def.type === 'never';
}

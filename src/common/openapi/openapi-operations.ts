import { z } from 'zod';
import { type EndpointSpec, endpointSpec, type JsonSchema, toOpenApiSchema } from './endpoint-registry.js';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
  description?: string;
  example?: unknown;
  style?: string;
  explode?: boolean;
}

interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

/** Writes each route's declared schemas (ApiEndpoint) into its operation: parameters, request body, success answer. */
export function applyEndpointSpecs(paths: Record<string, Record<string, Operation>>): void {
  for (const [path, item] of Object.entries(paths)) {
    for (const operation of Object.values(item)) {
      const spec = operation.operationId === undefined ? undefined : endpointSpec(operation.operationId);
      // A route without @ApiEndpoint is refused at run time (markUndeclaredRoutes); its entry is left as is.
      if (!spec) continue;
      operation.parameters = [...pathParameters(path, spec), ...queryParameters(spec), ...headerParameters(operation)];
      const body = requestBody(spec);
      if (body) operation.requestBody = body;
      else delete operation.requestBody;
      if (spec.ok && !spec.ok.type) operation.responses[String(spec.ok.status ?? 200)] = successResponse(spec);
    }
  }
}

function pathParameters(path: string, spec: EndpointSpec): Parameter[] {
  const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const properties = objectProperties(spec.params);
  return names.map((name) => {
    const schema = properties.schema[name];
    if (!schema) throw new Error(`${path}: path parameter "${name}" is not in the route's params schema`);
    return { name, in: 'path', required: true, ...describe(schema) };
  });
}

function queryParameters(spec: EndpointSpec): Parameter[] {
  const { schema, required } = objectProperties(spec.query);
  return Object.entries(schema).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    // An object (`metadata[k]=v`) travels as deepObject: Swagger UI then sends the brackets.
    ...(property.type === 'object' ? { style: 'deepObject', explode: true } : {}),
    ...describe(property),
  }));
}

function headerParameters(operation: Operation): Parameter[] {
  return (operation.parameters ?? []).filter((p) => p.in === 'header');
}

/** A parameter's description and example sit beside its schema, where Swagger UI reads them. */
function describe(property: JsonSchema): { schema: JsonSchema; description?: string; example?: unknown } {
  const { description, examples, example, ...schema } = property as JsonSchema & { description?: string; examples?: unknown[] };
  const out: { schema: JsonSchema; description?: string; example?: unknown } = { schema };
  if (typeof description === 'string') out.description = description;
  const first = example ?? (Array.isArray(examples) ? examples[0] : undefined);
  if (first !== undefined) out.example = first;
  return out;
}

function objectProperties(schema: EndpointSpec['query']): { schema: Record<string, JsonSchema>; required: string[] } {
  if (!schema) return { schema: {}, required: [] };
  const json = toOpenApiSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return { schema: json.properties ?? {}, required: json.required ?? [] };
}

function requestBody(spec: EndpointSpec): unknown {
  const content: Record<string, unknown> = {};
  if (spec.body) {
    content['application/json'] = {
      schema: toOpenApiSchema(spec.body),
      ...(spec.bodyExample === undefined ? {} : { example: spec.bodyExample }),
    };
  }
  if (spec.form) {
    const fields = toOpenApiSchema(spec.form.fields) as { properties?: Record<string, JsonSchema>; required?: string[] };
    const files = Object.fromEntries(
      Object.entries(spec.form.files).map(([name, description]) => [name, { type: 'string', format: 'binary', description }]),
    );
    content['multipart/form-data'] = {
      schema: {
        type: 'object',
        properties: { ...files, ...fields.properties },
        required: [...Object.keys(files), ...(fields.required ?? [])],
      },
    };
  }
  for (const type of spec.raw ?? []) content[type] = { schema: { type: 'string', format: 'binary' } };
  if (Object.keys(content).length === 0) return undefined;
  // A JSON body whose every property is optional may be left out (POST /v2/repository/index).
  const optional =
    spec.body &&
    !spec.form &&
    !spec.raw &&
    !((content['application/json'] as { schema: JsonSchema }).schema.required as string[] | undefined)?.length;
  return { required: !optional, content };
}

function successResponse(spec: EndpointSpec): unknown {
  const ok = spec.ok!;
  const schema =
    ok.schema instanceof z.ZodType
      ? toOpenApiSchema(ok.schema, 'output')
      : ok.schema
        ? ok.schema
        : ok.example === undefined
          ? undefined
          : schemaOf(ok.example);
  const media: Record<string, unknown> = {};
  if (schema) media.schema = schema;
  if (ok.example !== undefined) media.example = ok.example;
  const content: Record<string, unknown> = Object.keys(media).length > 0 ? { [ok.contentType ?? 'application/json']: media } : {};
  for (const [type, alternative] of Object.entries(ok.alternatives ?? {})) content[type] = { schema: alternative };
  return { description: ok.description ?? 'Success', ...(Object.keys(content).length > 0 ? { content } : {}) };
}

/** The shape of an example, for answers whose schema is not declared in zod: types, properties and items. */
export function schemaOf(value: unknown): JsonSchema {
  if (value === null) return { nullable: true };
  if (Array.isArray(value)) return value.length > 0 ? { type: 'array', items: schemaOf(value[0]) } : { type: 'array', items: {} };
  switch (typeof value) {
    case 'string':
      return { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return { type: Number.isInteger(value) ? 'integer' : 'number' };
    case 'object':
      return {
        type: 'object',
        properties: Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, schemaOf(v)])),
      };
    default:
      return {};
  }
}

/**
 * The operations the fuzz suite drives, read from the app's own OpenAPI document (GET /docs-json), plus
 * the few facts the document does not carry (query options, the file upload's multipart body).
 */

export interface JsonSchema {
  type?: string;
  format?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  example?: unknown;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
}

export interface Operation {
  /** `METHOD /path/{param}` as the document writes it. */
  key: string;
  method: string;
  path: string;
  /** Path parameters that appear in the path (the document also lists some that do not). */
  pathParams: string[];
  /** Content types of the request body, with their schemas; empty when the route takes no body. */
  bodies: Array<{ contentType: string; schema: JsonSchema }>;
  /** Query option names: the body schema's properties (media routes take options in the query) and QUERY_HINTS. */
  queryKeys: string[];
  /** Routes that need an API key (the document's `security`). */
  secured: boolean;
  /** Routes under /v2 answer `{"error": string}`. */
  v2: boolean;
  /** Deletes, cancels or unloads a fixture: runs after every other operation. */
  destructive: boolean;
}

/** Query options the document does not list, by route (summaries name them; the controllers read them). */
const QUERY_HINTS: Record<string, string[]> = {
  'GET /v1/files': ['after', 'limit', 'order', 'purpose'],
  'GET /v1/fine_tuning/jobs': ['after', 'limit'],
  'GET /v1/fine_tuning/jobs/{id}/events': ['after', 'limit', 'stream'],
  'GET /v1/fine_tuning/jobs/{id}/checkpoints': ['after', 'limit'],
  'GET /v1/fine_tuning/jobs/{id}/metrics': ['after', 'limit'],
  'GET /v1/models': ['task'],
};

/** Request bodies the document does not describe. */
const BODY_HINTS: Record<string, Array<{ contentType: string; schema: JsonSchema }>> = {
  'POST /v1/files': [
    {
      contentType: 'multipart/form-data',
      schema: {
        type: 'object',
        required: ['purpose', 'file'],
        properties: { purpose: { type: 'string', enum: ['fine-tune'] }, file: { type: 'string', format: 'binary' } },
      },
    },
  ],
  'POST /v1/audio/transcriptions': [
    {
      contentType: 'multipart/form-data',
      schema: {
        type: 'object',
        required: ['file', 'model'],
        properties: {
          file: { type: 'string', format: 'binary' },
          model: { type: 'string', example: 'whisper-fixture' },
          language: { type: 'string', example: 'en' },
          prompt: { type: 'string' },
          response_format: { type: 'string', enum: ['json', 'text', 'verbose_json', 'srt', 'vtt'] },
          temperature: { type: 'number', minimum: 0, maximum: 1 },
        },
      },
    },
  ],
};

interface DocOperation {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation in the document, except the test fixtures' own `/test/*` routes. */
export function operationsOf(document: { paths: Record<string, Record<string, DocOperation>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    if (path.startsWith('/test/')) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const key = `${method.toUpperCase()} ${path}`;
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const documented = Object.entries(op.requestBody?.content ?? {}).map(([contentType, c]) => ({ contentType, schema: c.schema ?? {} }));
      const bodies = documented.length > 0 ? documented : (BODY_HINTS[key] ?? []);
      const fromSchemas = bodies.flatMap((b) => Object.keys(b.schema.properties ?? {}));
      const queryKeys = [
        ...new Set([
          ...fromSchemas,
          ...(QUERY_HINTS[key] ?? []),
          ...(op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        ]),
      ];
      out.push({
        key,
        method: method.toUpperCase(),
        path,
        pathParams,
        bodies,
        queryKeys,
        secured: (op.security ?? []).length > 0,
        v2: path === '/v2' || path.startsWith('/v2/'),
        destructive: method === 'delete' || /\/(cancel|unload)$/.test(path),
      });
    }
  }
  return out;
}

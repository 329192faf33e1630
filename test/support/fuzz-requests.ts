/**
 * Whole requests for one operation: path parameters, query, Authorization, Content-Type and a body
 * (JSON, raw media or multipart), each valid-ish most of the time and hostile some of the time.
 */
import fc from 'fast-check';
import type { JsonSchema, Operation } from './fuzz-spec.js';
import {
  type FuzzContext,
  HOSTILE_SEGMENTS,
  HOSTILE_STRINGS,
  likeExample,
  mutateJson,
  objectFor,
  pick,
  serializeJson,
} from './fuzz-values.js';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: Buffer;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'image/png',
  'audio/wav',
  'application/octet-stream',
  'application/jsonl',
  'a/b/c',
  ';;;',
  'application/vnd.api+json',
  'image/svg+xml',
  'video/mp4',
];

/** encodeURIComponent, except that a lone surrogate goes out as the bytes Buffer makes of it instead of throwing. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
}

function segment(name: string, ctx: FuzzContext): fc.Arbitrary<string> {
  const valid = pick(ctx, name).map(encode);
  return fc.oneof(
    { arbitrary: valid.length > 0 ? fc.constantFrom(...valid) : fc.constant('1'), weight: 6 },
    { arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encode), weight: 1 },
  );
}

function queryString(op: Operation, ctx: FuzzContext): fc.Arbitrary<string> {
  const keys = [...op.queryKeys, 'unknown_option', 'limit', 'model'];
  const value = (key: string) => {
    const known = pick(ctx, key);
    return fc.oneof(
      { arbitrary: known.length > 0 ? fc.constantFrom(...known) : fc.constantFrom('1', '5', 'true', 'desc'), weight: 3 },
      { arbitrary: fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length < 1000)), weight: 2 },
      { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
    );
  };
  const pair = fc.constantFrom(...keys).chain((k) => value(k).map((v) => `${encode(k)}=${encode(v)}`));
  const raw = fc.constantFrom('limit=%00', 'model=%zz', 'a=%', '&&&', '=x', 'limit=1&limit=2', 'after[]=1', 'top_k[a]=1', 'x'.repeat(9000));
  // Media routes take their options in the query when the body is the raw image or audio.
  const options = op.bodies.find((b) => b.schema.properties)?.schema;
  const fields = Object.entries(options?.properties ?? {}).filter(([, s]) => s.format !== 'binary' && s.type !== 'array');
  const valid = objectFor({ type: 'object', required: options?.required ?? [], properties: Object.fromEntries(fields) }, ctx).map(
    (o) =>
      '?' +
      Object.entries(o)
        .map(([k, v]) => `${encode(k)}=${encode(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))}`)
        .join('&'),
  );
  return fc.oneof(
    { arbitrary: fc.constant(''), weight: 4 },
    { arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((p) => '?' + p.join('&')), weight: 4 },
    { arbitrary: raw.map((r) => '?' + r), weight: 1 },
    ...(fields.length > 0 ? [{ arbitrary: valid, weight: 6 }] : []),
  );
}

function authorization(ctx: FuzzContext): fc.Arbitrary<string | undefined> {
  const { admin, infer, train } = ctx.keys;
  return fc.oneof(
    { arbitrary: fc.constant(`Bearer ${admin}`), weight: 14 },
    { arbitrary: fc.constantFrom(`Bearer ${infer}`, `Bearer ${train}`, `bearer ${admin}`), weight: 2 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    {
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Bearer wrong-key',
        `Basic ${Buffer.from(admin).toString('base64')}`,
        `Bearer ${admin} extra`,
        `Bearer  ${admin}`,
        `Bearer ${'k'.repeat(8000)}`,
        'Bearer \u00ff\u00fe',
        `Bearer ${admin}\u0000`.replace('\u0000', ''),
        'Token x',
        ',',
        '""',
      ),
      weight: 1,
    },
  );
}

interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Buffer;
}

function multipartBody(parts: Part[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head), p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** Bytes for a file part or raw body: datasets for the upload route, audio for audio and `file` parts elsewhere, else images. */
function mediaFor(name: string, ctx: FuzzContext, upload = false): fc.Arbitrary<Buffer> {
  const { images, audio, datasets, junk } = ctx.media;
  const own = upload ? datasets : /audio|file/.test(name) ? audio : images;
  return fc.oneof(
    { arbitrary: fc.constantFrom(...own), weight: 4 },
    { arbitrary: fc.constantFrom(...junk, ...images, ...audio), weight: 1 },
  );
}

/** A multipart form from the schema: files for binary properties, fields for the rest; then maybe broken. */
function multipart(schema: JsonSchema, ctx: FuzzContext, upload: boolean): fc.Arbitrary<{ type: string; body: Buffer }> {
  const props = Object.entries(schema.properties ?? {});
  const files = props.filter(([, s]) => s.format === 'binary').map(([k]) => k);
  const fields = props.filter(([, s]) => s.format !== 'binary');
  const required = (schema.required ?? []).filter((k) => fields.some(([name]) => name === k));
  const fieldValue = fc.oneof(
    { arbitrary: objectFor({ type: 'object', required, properties: Object.fromEntries(fields) }, ctx), weight: 4 },
    { arbitrary: fc.constant({}), weight: 1 },
  );
  const part = fc.tuple(
    fc.constantFrom(...(files.length > 0 ? files : ['file']), 'image', 'audio', 'x'),
    fc.constantFrom('a.png', 'b.wav', 'c.jsonl', '', 'ü.bin', '../../x', 'a"b'),
    fc.option(fc.constantFrom('image/png', 'audio/wav', 'application/jsonl', 'text/plain'), { nil: undefined }),
  );
  // Mostly the route's own file part first, then maybe others; sometimes any parts at all.
  const ownPart = fc.tuple(
    fc.constantFrom(...(files.length > 0 ? files : ['file'])),
    fc.constantFrom('a.bin', 'b.wav', 'c.jsonl'),
    fc.constant(undefined),
  );
  const fileParts = fc.oneof(
    { arbitrary: fc.tuple(ownPart, fc.array(part, { maxLength: 2 })).map(([own, rest]) => [own, ...rest]), weight: 4 },
    { arbitrary: fc.array(part, { minLength: 0, maxLength: 3 }), weight: 1 },
  );
  const many = fc.integer({ min: 4, max: 80 });
  return fc
    .tuple(fieldValue, fileParts, fc.option(many, { freq: 8 }), fc.constantFrom(...files, 'file'))
    .chain(([values, fileSpecs, count, manyName]) =>
      fc
        .tuple(
          fc.tuple(...fileSpecs.map(([name]) => mediaFor(name, ctx, upload))),
          mediaFor(manyName, ctx, upload),
          fc.constantFrom('fuzzboundary', 'x', '----WebKitFormBoundary7MA4YWxkTrZu0gW'),
        )
        .map(([datas, manyData, boundary]) => {
          const parts: Part[] = Object.entries(values).map(([name, v]) => ({
            name,
            data: Buffer.from(typeof v === 'string' ? v : (JSON.stringify(v) ?? '')),
          }));
          fileSpecs.forEach(([name, filename, type], i) => parts.push({ name, filename, type, data: datas[i]! }));
          if (count !== null)
            for (let i = 0; i < count; i += 1) parts.push({ name: `${manyName}${i === 0 ? '' : i}`, filename: `${i}.bin`, data: manyData });
          return { boundary, body: multipartBody(parts, boundary) };
        }),
    )
    .chain(({ boundary, body }) =>
      fc.oneof(
        { arbitrary: fc.constant({ type: `multipart/form-data; boundary=${boundary}`, body }), weight: 6 },
        {
          arbitrary: fc
            .nat({ max: Math.max(0, body.length - 1) })
            .map((n) => ({ type: `multipart/form-data; boundary=${boundary}`, body: body.subarray(0, n) })),
          weight: 1,
        },
        {
          arbitrary: fc.constantFrom(
            { type: 'multipart/form-data; boundary=other', body },
            { type: 'multipart/form-data', body },
            {
              type: `multipart/form-data; boundary=${boundary}`,
              body: Buffer.from(body.toString('latin1').replaceAll('\r\n', '\n'), 'latin1'),
            },
            {
              type: `multipart/form-data; boundary=${boundary}`,
              body: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${boundary}--\r\n`),
            },
            {
              type: `multipart/form-data; boundary=${boundary}`,
              body: Buffer.from(`--${boundary}\r\nContent-Type: image/png\r\n\r\nx\r\n--${boundary}--\r\n`),
            },
            { type: `multipart/form-data; boundary=${boundary}`, body: Buffer.from(`--${boundary}--\r\n`) },
            {
              type: `multipart/form-data; boundary=${boundary}`,
              body: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n`),
            },
          ),
          weight: 1,
        },
      ),
    );
}

function body(op: Operation, ctx: FuzzContext): fc.Arbitrary<{ type?: string; body?: Buffer }> {
  const noBody = fc.constant({});
  const stray = fc
    .tuple(fc.constantFrom(...CONTENT_TYPES), fc.constantFrom(...ctx.media.junk, Buffer.from('{}'), Buffer.from('{"model":"x"}')))
    .map(([type, b]) => ({ type, body: b }));
  if (op.bodies.length === 0) return fc.oneof({ arbitrary: noBody, weight: 8 }, { arbitrary: stray, weight: 2 });
  const kinds = op.bodies.map(({ contentType, schema }) => {
    const examples = (ctx.examples[op.key] ?? []).map((e) => likeExample('', e, ctx));
    const objects = examples.length > 0 ? fc.oneof(objectFor(schema, ctx), ...examples) : objectFor(schema, ctx);
    if (contentType === 'application/json') {
      const json = objects.chain((v) => fc.oneof({ arbitrary: fc.constant(v), weight: 3 }, { arbitrary: mutateJson(v), weight: 1 }));
      return json.chain(serializeJson).map((b) => ({ type: contentType, body: b }));
    }
    if (contentType === 'multipart/form-data') return multipart(schema, ctx, op.path === '/v1/files');
    const raw =
      contentType === 'application/octet-stream' && op.path.includes('/infer')
        ? objects.chain((v) => serializeJson(v))
        : mediaFor(contentType.startsWith('audio') ? 'audio' : 'image', ctx);
    return raw.map((b) => ({ type: contentType, body: b }));
  });
  return fc.oneof({ arbitrary: fc.oneof(...kinds), weight: 8 }, { arbitrary: stray, weight: 1 }, { arbitrary: noBody, weight: 1 });
}

/** One request for the operation. */
export function requestFor(op: Operation, ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const segments = fc.tuple(...op.pathParams.map((p) => segment(p, ctx)));
  const extraHeaders = fc.option(
    fc.constantFrom<Record<string, string>>(
      { 'content-length': '0' },
      { 'transfer-encoding': 'chunked' },
      { 'x-request-id': '../../x' },
      { 'x-request-id': 'a'.repeat(300) },
      { 'content-encoding': 'gzip' },
      { 'inference-header-content-length': '5' },
      { 'inference-header-content-length': '-1' },
      { 'inference-header-content-length': '99999999' },
      { accept: 'text/event-stream' },
      { 'x-forwarded-for': '1.2.3.4' },
    ),
    { freq: 6 },
  );
  // Now and then another method on the same path: routers answer those too.
  const method = fc.oneof(
    { arbitrary: fc.constant(op.method), weight: 19 },
    { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), weight: 1 },
  );
  return fc
    .tuple(segments, queryString(op, ctx), authorization(ctx), body(op, ctx), extraHeaders, method)
    .map(([segs, query, auth, b, extra, verb]) => {
      let i = 0;
      const path = op.path.replace(/\{\w+\}/g, () => segs[i++]!);
      const headers: Record<string, string> = { ...(extra ?? {}) };
      if (auth !== undefined) headers.authorization = auth;
      if (b.type !== undefined) headers['content-type'] = b.type;
      return { method: verb, url: path + query, headers, ...(b.body !== undefined ? { payload: b.body } : {}) };
    });
}

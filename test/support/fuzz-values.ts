/**
 * Value generators for the fuzz suite: hostile strings and path segments, values shaped like a schema
 * or an example, and the mutations that turn a valid-ish JSON body into a broken one.
 */
import fc from 'fast-check';
import type { JsonSchema } from './fuzz-spec.js';

/** Media and datasets the generators splice into bodies: real (tiny) ones and broken ones. */
export interface MediaPool {
  images: Buffer[];
  audio: Buffer[];
  datasets: Buffer[];
  junk: Buffer[];
}

/** Valid values the fixtures made (ids, model names), by path parameter or field name. */
export interface FuzzContext {
  keys: { admin: string; infer: string; train: string };
  /** Candidates for `{model}`, `{id}`, `training_file`, ... */
  names: Record<string, string[]>;
  media: MediaPool;
  /** Valid JSON bodies by operation key, for routes whose document example fits no real model (OIP infer). */
  examples: Record<string, unknown[]>;
}

/** Path segments as they go on the wire (already percent-encoded, or deliberately not). */
export const HOSTILE_SEGMENTS = [
  '%00',
  'file-%00',
  'ftjob-abc%00def',
  '..',
  '%2e%2e',
  '..%2F..%2Fetc%2Fpasswd',
  '%2F',
  '%',
  '%zz',
  '%C3%28',
  '%ED%A0%80',
  '%FF%FE',
  encodeURIComponent('ü日本🎉'),
  encodeURIComponent('\u202e\u0301'),
  'x'.repeat(5000),
  '%20',
  '%0d%0a',
  'null',
  'undefined',
  '-1',
  '0',
  '1e999',
  '0x10',
  '9'.repeat(40),
  'file-' + 'f'.repeat(24),
  'ftjob-' + '0'.repeat(24),
  'art-' + '0'.repeat(24),
  ';',
  '*',
  '%3Cscript%3E',
  '%25',
];

/** Strings for fields and query values: the kinds that break parsers, databases and regexes. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '..',
  '../../etc/passwd',
  'ü日本🎉',
  '\ud800',
  '\u202e',
  'x'.repeat(70_000),
  '-1',
  '0',
  '1e999',
  'NaN',
  'Infinity',
  'true',
  'null',
  '[]',
  '{}',
  "'; DROP TABLE files; --",
  '%00',
  '\r\n',
  '__proto__',
  'constructor',
  '9'.repeat(30),
  '0.5',
  '1',
];

const hostileString = fc.constantFrom(...HOSTILE_STRINGS);
const anyString = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 1 },
  { arbitrary: hostileString, weight: 3 },
);

/** Any JSON value, including the awkward numbers and nesting that a schema would not allow. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, '', [], {}, [null], { '': 1 }),
  anyString,
  fc.jsonValue({ maxDepth: 3 }),
);

export function pick(ctx: FuzzContext, name: string): string[] {
  return ctx.names[name] ?? [];
}

function base64Of(buffers: Buffer[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...buffers).map((b) => b.toString('base64')),
    fc.constantFrom(...buffers).map((b) => `data:image/png;base64,${b.toString('base64')}`),
    fc.constantFrom('not base64!', '====', 'data:;base64,', 'data:image/png;base64,%%%', 'AAAA'.repeat(3)),
  );
}

/** A value for one schema property: valid most of the time, wrong sometimes. */
export function valueFor(name: string, schema: JsonSchema, ctx: FuzzContext): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: validValueFor(name, schema, ctx), weight: 5 }, { arbitrary: wrongValue, weight: 1 });
}

function validValueFor(name: string, schema: JsonSchema, ctx: FuzzContext): fc.Arbitrary<unknown> {
  const fitting = schema.example ?? schema.default;
  if (pick(ctx, name).length > 0) return likeExample(name, fitting, ctx);
  // Where the document gives a default but no range, the default is the value known to be valid.
  if (schema.default !== undefined && schema.minimum === undefined && schema.maximum === undefined && !schema.enum) {
    return fc.oneof(
      { arbitrary: fc.constant(schema.default), weight: 3 },
      { arbitrary: validValueFor(name, { ...schema, default: undefined }, ctx), weight: 1 },
    );
  }
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.format === 'binary' || schema.format === 'byte')
    return base64Of(name.startsWith('audio') ? ctx.media.audio : ctx.media.images);
  switch (schema.type) {
    case 'integer': {
      const min = schema.minimum ?? -1000;
      const max = schema.maximum ?? 100_000;
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max, min - 1, max + 1));
    }
    case 'number': {
      // Unbounded in the document: mostly a small positive value (probabilities, seconds), sometimes anything.
      if (schema.minimum === undefined && schema.maximum === undefined) {
        return fc.oneof(
          { arbitrary: fc.double({ min: 0.05, max: 0.95, noNaN: true }), weight: 3 },
          { arbitrary: fc.double({ min: -1000, max: 1000, noNaN: true }), weight: 1 },
        );
      }
      const min = schema.minimum ?? -1000;
      const max = schema.maximum ?? 1000;
      return fc.oneof(fc.double({ min, max, noNaN: true }), fc.constantFrom(min, max, min - 0.001, max + 1));
    }
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(validValueFor(name, schema.items ?? {}, ctx), { maxLength: 4 });
    case 'object':
      return objectFor(schema, ctx);
    default:
      return schema.example !== undefined ? likeExample(name, schema.example, ctx) : anyString;
  }
}

/** Values shaped like an example: the example itself, or each leaf replaced by a value of its kind. */
export function likeExample(name: string, example: unknown, ctx: FuzzContext): fc.Arbitrary<unknown> {
  const known = pick(ctx, name);
  if (known.length > 0) {
    // The document's own example (the model that fits the route) first, then the other valid names.
    const own = typeof example === 'string' && known.includes(example) ? [{ arbitrary: fc.constant(example), weight: 4 }] : [];
    return fc.oneof(...own, { arbitrary: fc.constantFrom(...known), weight: 3 }, { arbitrary: anyString, weight: 1 });
  }
  if (typeof example === 'string') return fc.oneof({ arbitrary: fc.constant(example), weight: 3 }, { arbitrary: anyString, weight: 1 });
  if (typeof example === 'number') {
    const varied = Number.isInteger(example)
      ? fc.integer({ min: -5, max: Math.max(10, example * 2) })
      : fc.double({ min: -10, max: 10, noNaN: true });
    return fc.oneof({ arbitrary: fc.constant(example), weight: 2 }, { arbitrary: varied, weight: 2 });
  }
  if (typeof example === 'boolean') return fc.boolean();
  if (Array.isArray(example)) {
    if (example.length === 0) return fc.constant([]);
    return fc.oneof(fc.constant(example), fc.array(likeExample(name, example[0], ctx), { minLength: 0, maxLength: 5 }));
  }
  if (example && typeof example === 'object') {
    const entries = Object.entries(example as Record<string, unknown>).map(([k, v]) => [k, likeExample(k, v, ctx)] as const);
    return fc.record(Object.fromEntries(entries));
  }
  return fc.constant(example);
}

/** An object from a schema's properties (required ones always, others sometimes), or from its example. */
export function objectFor(schema: JsonSchema, ctx: FuzzContext): fc.Arbitrary<Record<string, unknown>> {
  if (!schema.properties) {
    const example = schema.example && typeof schema.example === 'object' ? schema.example : {};
    return likeExample('', example, ctx) as fc.Arbitrary<Record<string, unknown>>;
  }
  const shape = Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, valueFor(k, s, ctx)]));
  // Media is what these routes are about: a body without it only ever meets the first check.
  const media = Object.entries(schema.properties)
    .filter(([, s]) => s.format === 'binary')
    .map(([k]) => k);
  return fc.record(shape, { requiredKeys: [...new Set([...(schema.required ?? []), ...media])].filter((k) => k in shape) }) as fc.Arbitrary<
    Record<string, unknown>
  >;
}

/** One structural change to a JSON value: drop or retype a key, add one, or replace the whole thing. */
export function mutateJson(value: unknown): fc.Arbitrary<unknown> {
  const keys = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  const obj = value as Record<string, unknown>;
  const options: Array<fc.Arbitrary<unknown>> = [
    wrongValue,
    fc.constant([value]),
    fc
      .tuple(fc.constantFrom('extra', '__proto__', 'constructor', '', 'model '), wrongValue)
      .map(([k, v]) => JSON.parse(JSON.stringify({ ...obj, [k]: v }))),
  ];
  if (keys.length > 0) {
    options.push(fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(obj).filter(([key]) => key !== k))));
    options.push(fc.tuple(fc.constantFrom(...keys), wrongValue).map(([k, v]) => ({ ...obj, [k]: v })));
    options.push(
      fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 200_000 })).map(([k, n]) => ({ ...obj, [k]: 'a '.repeat(n) })),
    );
    options.push(
      fc
        .tuple(fc.constantFrom(...keys), fc.integer({ min: 100, max: 20_000 }))
        .map(([k, n]) => ({ ...obj, [k]: Array.from({ length: n }, (_, i) => i % 7) })),
    );
  }
  return fc.oneof(...options);
}

/** A JSON text, then maybe broken as text: cut, made invalid UTF-8, nested absurdly deep, and so on. */
export function serializeJson(value: unknown): fc.Arbitrary<Buffer> {
  const text = JSON.stringify(value) ?? 'null';
  const plain = Buffer.from(text);
  return fc.oneof(
    { arbitrary: fc.constant(plain), weight: 6 },
    { arbitrary: fc.nat({ max: Math.max(0, plain.length - 1) }).map((n) => plain.subarray(0, n)), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.nat({ max: plain.length }), fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0x00]))
        .map(([at, bytes]) => Buffer.concat([plain.subarray(0, at), Buffer.from(bytes), plain.subarray(at)])),
      weight: 1,
    },
    {
      arbitrary: fc
        .constantFrom(
          '',
          ' ',
          'null',
          '[]',
          '{}',
          '"x"',
          '1e999',
          'NaN',
          '{"a":1,}',
          "{'model': 'x'}",
          '{"model":"a","model":"b"}',
          '\ufeff' + text,
          text + 'garbage',
          text + text,
          '{"a":"\\ud800"}',
          '{"a":"\\u0000"}',
          '[' + '['.repeat(5000) + ']'.repeat(5001),
          '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
          `{"x":${'1'.repeat(400)}}`,
        )
        .map((s) => Buffer.from(s)),
      weight: 1,
    },
  );
}

/**
 * Tensor encoding of the Open Inference Protocol v2 (KServe v2 REST) and Triton's binary tensor
 * data extension. Pure functions over host tensors; the runtime maps these to ONNX tensors.
 * Every client mistake throws VALIDATION_FAILED naming the tensor (`what`, e.g. `input "x"`).
 */
import {
  elementCount,
  TENSOR_DATATYPES,
  type Tensor,
  type TensorData,
  type TensorDatatype,
  TYPED_ARRAY_OF,
  type NumericData,
  type NumericDatatype,
} from '../contracts/tensor.js';
import { fail, show, showShape } from './codec-errors.js';
import { float32ToFp16Bits, fp16BitsToFloat32 } from './fp16.js';

export { joinInferResponse, splitInferRequest, takeBinaryInputs } from './binary-framing.js';

/** The runtime's tensor types are the protocol's: one definition, in contracts/tensor.ts. */
export type OipDatatype = TensorDatatype;
export type HostTensor = Tensor;
export const OIP_DATATYPES = TENSOR_DATATYPES;
export { elementCount };
export type { TensorData };

type SmallIntDatatype = 'UINT8' | 'UINT16' | 'UINT32' | 'INT8' | 'INT16' | 'INT32';

interface Layout {
  size: number;
  array: new (buffer: ArrayBuffer) => NumericData;
}

const LAYOUTS = Object.fromEntries(
  Object.entries(TYPED_ARRAY_OF).map(([type, array]) => [type, { size: array.BYTES_PER_ELEMENT, array }]),
) as unknown as Readonly<Record<NumericDatatype, Layout>>;

const BIGINT_RANGES = { UINT64: [0n, 2n ** 64n - 1n], INT64: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
// BYTES elements keep a leading U+FEFF: it is data, not a byte order mark.
const utf8Element = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isOipDatatype(value: unknown): value is OipDatatype {
  return typeof value === 'string' && (OIP_DATATYPES as readonly string[]).includes(value);
}

/** A tensor from the JSON `data` field: flat or nested row-major, checked element by element. */
export function decodeJsonTensor(what: string, datatype: unknown, shape: unknown, data: unknown): HostTensor {
  const type = checkDatatype(what, datatype);
  const dims = checkShape(what, shape);
  if (!Array.isArray(data)) fail(`${what}: data must be an array, got ${show(data)}`);
  const values = flatten(data);
  const count = elementCount(dims);
  if (values.length !== count) fail(`${what}: shape ${showShape(dims)} needs ${count} elements, got ${values.length}`);
  return { datatype: type, shape: dims, data: FROM_JSON[type](what, values) };
}

/** A tensor from Triton binary data: little-endian elements; BYTES as u32 length + UTF-8 each. */
export function decodeBinaryTensor(what: string, datatype: unknown, shape: unknown, bytes: Uint8Array): HostTensor {
  const type = checkDatatype(what, datatype);
  const dims = checkShape(what, shape);
  const count = elementCount(dims);
  if (type === 'BYTES') return { datatype: type, shape: dims, data: decodeStrings(what, count, bytes) };
  const { size, array } = LAYOUTS[type];
  if (bytes.length !== count * size) {
    fail(`${what}: binary data is ${bytes.length} bytes, shape ${showShape(dims)} of ${type} needs ${count * size}`);
  }
  // A fresh copy: the slice may sit at any offset of the body, typed arrays need aligned starts.
  const copy = new Uint8Array(bytes);
  if (!LITTLE_ENDIAN) swapBytes(copy, size);
  if (type === 'BOOL') {
    const i = copy.findIndex((b) => b > 1);
    if (i >= 0) fail(`${what}: element ${i} (${copy[i]}) is not a BOOL byte (0 or 1)`);
  }
  return { datatype: type, shape: dims, data: new array(copy.buffer) };
}

/**
 * Like decodeBinaryTensor, but numeric data (other than BOOL, whose bytes need checking) stays a
 * raw view into the body: the session worker copies it into an aligned array, off the HTTP thread.
 */
export function viewBinaryTensor(what: string, datatype: unknown, shape: unknown, bytes: Uint8Array): HostTensor {
  const type = checkDatatype(what, datatype);
  if (type === 'BYTES' || type === 'BOOL' || !LITTLE_ENDIAN) return decodeBinaryTensor(what, datatype, shape, bytes);
  const dims = checkShape(what, shape);
  const count = elementCount(dims);
  const { size } = LAYOUTS[type];
  if (bytes.length !== count * size) {
    fail(`${what}: binary data is ${bytes.length} bytes, shape ${showShape(dims)} of ${type} needs ${count * size}`);
  }
  return { datatype: type, shape: dims, data: bytes, raw: true };
}

/** Flat row-major data for a JSON response; non-finite floats become strings, 64-bit ints numbers. */
export function encodeJsonData(tensor: HostTensor): Array<number | boolean | string> {
  const { datatype, data } = checkHostTensor(tensor);
  if (datatype === 'BOOL') return Array.from(data as Uint8Array, (b) => b !== 0);
  if (datatype === 'BYTES') return [...(data as string[])];
  if (datatype === 'FP16') return Array.from(data as Uint16Array, (bits) => jsonNumber(fp16BitsToFloat32(bits)));
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (n) => Number(n));
  return Array.from(data as Float64Array, jsonNumber);
}

/** The inverse of decodeBinaryTensor. On little-endian hosts numeric data is a view, not a copy. */
export function encodeBinaryData(tensor: HostTensor): Uint8Array {
  const { datatype, data } = checkHostTensor(tensor);
  if (datatype === 'BYTES') return encodeStrings(data as string[]);
  const numeric = data as NumericData;
  const bytes = new Uint8Array(numeric.buffer, numeric.byteOffset, numeric.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, LAYOUTS[datatype].size);
  return copy;
}

function checkDatatype(what: string, datatype: unknown): OipDatatype {
  if (!isOipDatatype(datatype)) fail(`${what}: datatype ${show(datatype)} is not an Open Inference Protocol datatype`);
  return datatype;
}

function checkShape(what: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${what}: shape must be an array of non-negative integers`);
  }
  return [...(shape as number[])];
}

/** Tensors are built in-process, so a mismatch is a server bug: a plain Error, answered as 500. */
function checkHostTensor(tensor: HostTensor): HostTensor {
  const { datatype, shape, data } = tensor;
  const count = elementCount(shape);
  const ok = datatype === 'BYTES' ? Array.isArray(data) : data instanceof LAYOUTS[datatype].array;
  if (!ok || data.length !== count) {
    throw new Error(`${datatype} tensor of shape ${showShape(shape)} holds ${data.constructor.name}(${data.length})`);
  }
  return tensor;
}

/** Iterative, so a deeply nested body cannot overflow the stack. */
function flatten(data: unknown[]): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const stack: Array<{ items: unknown[]; next: number }> = [{ items: data, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.next++];
    if (Array.isArray(item)) stack.push({ items: item, next: 0 });
    else out.push(item);
  }
  return out;
}

const FROM_JSON: Readonly<Record<OipDatatype, (what: string, values: unknown[]) => TensorData>> = {
  BOOL: (w, vs) => Uint8Array.from(vs, (v, i) => jsonBool(w, v, i)),
  UINT8: (w, vs) => Uint8Array.from(vs, (v, i) => jsonInt(w, 'UINT8', v, i)),
  UINT16: (w, vs) => Uint16Array.from(vs, (v, i) => jsonInt(w, 'UINT16', v, i)),
  UINT32: (w, vs) => Uint32Array.from(vs, (v, i) => jsonInt(w, 'UINT32', v, i)),
  UINT64: (w, vs) => BigUint64Array.from(vs, (v, i) => jsonBigInt(w, 'UINT64', v, i)),
  INT8: (w, vs) => Int8Array.from(vs, (v, i) => jsonInt(w, 'INT8', v, i)),
  INT16: (w, vs) => Int16Array.from(vs, (v, i) => jsonInt(w, 'INT16', v, i)),
  INT32: (w, vs) => Int32Array.from(vs, (v, i) => jsonInt(w, 'INT32', v, i)),
  INT64: (w, vs) => BigInt64Array.from(vs, (v, i) => jsonBigInt(w, 'INT64', v, i)),
  FP16: (w, vs) => Uint16Array.from(vs, (v, i) => float32ToFp16Bits(jsonFloat(w, 'FP16', v, i))),
  FP32: (w, vs) => Float32Array.from(vs, (v, i) => jsonFloat(w, 'FP32', v, i)),
  FP64: (w, vs) => Float64Array.from(vs, (v, i) => jsonFloat(w, 'FP64', v, i)),
  BYTES: (w, vs) => vs.map((v, i) => jsonString(w, v, i)),
};

function jsonBool(what: string, v: unknown, i: number): number {
  if (v === true || v === 1) return 1;
  if (v === false || v === 0) return 0;
  return fail(`${what}: element ${i} is ${show(v)}, not a boolean`);
}

function jsonInt(what: string, type: SmallIntDatatype, v: unknown, i: number): number {
  if (typeof v !== 'number') fail(`${what}: element ${i} is ${show(v)}, not a number`);
  if (!Number.isInteger(v)) fail(`${what}: element ${i} (${v}) is not an integer for ${type}`);
  const bits = LAYOUTS[type].size * 8;
  const [min, max] = type.startsWith('U') ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
  if (v < min || v > max) fail(`${what}: element ${i} (${v}) is out of range for ${type}`);
  return v;
}

/** Numbers past 2^53 were already rounded by JSON.parse, so exact 64-bit values come as strings. */
function jsonBigInt(what: string, type: 'UINT64' | 'INT64', v: unknown, i: number): bigint {
  let n: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(`${what}: element ${i} (${v}) is not an integer for ${type}`);
    if (!Number.isSafeInteger(v)) {
      fail(`${what}: element ${i} (${v}) is beyond 2^53 and may have lost precision; send it as a decimal string`);
    }
    n = BigInt(v);
  } else if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) {
    n = BigInt(v);
  } else {
    return fail(`${what}: element ${i} is ${show(v)}, not a number or decimal string`);
  }
  const [min, max] = BIGINT_RANGES[type];
  if (n < min || n > max) fail(`${what}: element ${i} (${n}) is out of range for ${type}`);
  return n;
}

function jsonFloat(what: string, type: 'FP16' | 'FP32' | 'FP64', v: unknown, i: number): number {
  let x: number;
  if (typeof v === 'number') x = v;
  else if (v === 'NaN') x = NaN;
  else if (v === 'Infinity') x = Infinity;
  else if (v === '-Infinity') x = -Infinity;
  else return fail(`${what}: element ${i} is ${show(v)}, not a number`);
  const overflows = type === 'FP16' ? Math.abs(x) >= 65520 : type === 'FP32' && !Number.isFinite(Math.fround(x));
  if (Number.isFinite(x) && overflows) fail(`${what}: element ${i} (${x}) is out of range for ${type}`);
  return x;
}

function jsonString(what: string, v: unknown, i: number): string {
  if (typeof v !== 'string') fail(`${what}: element ${i} is ${show(v)}, not a string`);
  if (LONE_SURROGATE.test(v)) fail(`${what}: element ${i} has a lone UTF-16 surrogate, which UTF-8 cannot carry`);
  return v;
}

function jsonNumber(x: number): number | string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return x;
}

function decodeStrings(what: string, count: number, bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const left = bytes.length - offset;
    if (left < 4) fail(`${what}: binary data ends before element ${i} (${left} bytes left, its length takes 4)`);
    const length = view.getUint32(offset, true);
    offset += 4;
    if (length > left - 4) fail(`${what}: element ${i} is ${length} bytes, but only ${left - 4} bytes are left`);
    try {
      out.push(utf8Element.decode(bytes.subarray(offset, offset + length)));
    } catch {
      fail(`${what}: element ${i} is not valid UTF-8`);
    }
    offset += length;
  }
  if (offset !== bytes.length) {
    fail(`${what}: binary data has ${bytes.length - offset} bytes left over after all ${count} elements`);
  }
  return out;
}

function encodeStrings(strings: readonly string[]): Uint8Array {
  const encoded = strings.map((s) => utf8Encoder.encode(s));
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of encoded) {
    view.setUint32(offset, e.length, true);
    out.set(e, offset + 4);
    offset += 4 + e.length;
  }
  return out;
}

// Like Fastify's secure-json-parse: only texts that could spell these keys pay for the reviver.
/** Reverses each element's bytes in place; only big-endian hosts need it. */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

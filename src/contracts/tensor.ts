/** Tensors as they travel between HTTP, the scheduler and the session workers. */
export const TENSOR_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type TensorDatatype = (typeof TENSOR_DATATYPES)[number];

export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | string[];

export type NumericDatatype = Exclude<TensorDatatype, 'BYTES'>;
export type NumericData = Exclude<TensorData, string[]>;

/** The typed array that holds each numeric datatype (BOOL as bytes, FP16 as raw half bits). */
export const TYPED_ARRAY_OF: Readonly<
  Record<NumericDatatype, { new (length: number): NumericData; new (buffer: ArrayBuffer): NumericData; BYTES_PER_ELEMENT: number }>
> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

export interface Tensor {
  datatype: TensorDatatype;
  shape: number[];
  /** Row-major. BOOL as 0/1 bytes, FP16 as raw half-precision bits, BYTES as UTF-8 strings. */
  data: TensorData;
  /**
   * `data` is a Uint8Array of little-endian element bytes at any alignment: a view into a request
   * body, left for the session worker to copy into an aligned array so the HTTP thread does not.
   */
  raw?: true;
}

/** Node's shared pool for small Buffers; an ArrayBuffer larger than it belongs to one Buffer alone. */
const BUFFER_POOL_BYTES = 8192;

export type NamedTensors = Record<string, Tensor>;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Elements before, and per row after, the given axis of a shape. */
function around(shape: readonly number[], axis: number): { outer: number; inner: number } {
  return { outer: elementCount(shape.slice(0, axis)), inner: elementCount(shape.slice(axis + 1)) };
}

/** A raw (unaligned bytes) or typed tensor's elements as bytes. */
function bytesOf(t: Tensor): Uint8Array {
  const d = t.data as NumericData;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Where concatBatch puts its result: a fresh array by default, or a caller's reused buffer. */
export type Allocate = (datatype: NumericDatatype, length: number) => NumericData;

const freshArray: Allocate = (datatype, length) => new TYPED_ARRAY_OF[datatype](length);

/**
 * Concatenates tensors of equal datatype and other dims along the batch axis (default the
 * first) into one aligned tensor; raw parts are copied here. A single aligned part is returned as
 * it is. `allocate` gives the array to fill (see Scratch).
 */
export function concatBatch(parts: readonly Tensor[], axis = 0, allocate: Allocate = freshArray): Tensor {
  const [first] = parts;
  if (parts.length === 1 && !first!.raw) return first!;
  const rowsOf = (p: Tensor) => p.shape[axis] ?? 1;
  const rows = parts.reduce((n, p) => n + rowsOf(p), 0);
  const shape = parts.length === 1 ? first!.shape : first!.shape.map((d, i) => (i === axis ? rows : d));
  const { outer, inner } = around(first!.shape, axis);
  if (first!.datatype === 'BYTES') {
    const data: string[] = [];
    for (let o = 0; o < outer; o += 1) {
      for (const p of parts) {
        const strings = p.data as string[];
        for (let i = o * rowsOf(p) * inner; i < (o + 1) * rowsOf(p) * inner; i += 1) data.push(strings[i]!);
      }
    }
    return { datatype: first!.datatype, shape, data };
  }
  const out = allocate(first!.datatype, elementCount(shape));
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const width = out.BYTES_PER_ELEMENT;
  let offset = 0;
  for (let o = 0; o < outer; o += 1) {
    for (const p of parts) {
      const block = rowsOf(p) * inner * width;
      bytes.set(bytesOf(p).subarray(o * block, (o + 1) * block), offset);
      offset += block;
    }
  }
  return { datatype: first!.datatype, shape, data: out };
}

/** Splits a batched tensor back into parts of the given row counts along the batch axis (the inverse of concatBatch). */
export function splitBatch(tensor: Tensor, rowCounts: readonly number[], axis = 0): Tensor[] {
  if (rowCounts.length === 1) return [tensor];
  const { outer, inner } = around(tensor.shape, axis);
  const total = tensor.shape[axis]!;
  let row = 0;
  return rowCounts.map((rows) => {
    const shape = tensor.shape.map((d, i) => (i === axis ? rows : d));
    const n = elementCount(shape);
    const first = row;
    row += rows;
    if (Array.isArray(tensor.data)) {
      const data: string[] = [];
      for (let o = 0; o < outer; o += 1) {
        for (let i = (o * total + first) * inner; i < (o * total + first + rows) * inner; i += 1) data.push(tensor.data[i]!);
      }
      return { datatype: tensor.datatype, shape, data };
    }
    const source = tensor.data as Float32Array;
    if (outer === 1) return { datatype: tensor.datatype, shape, data: source.slice(first * inner, (first + rows) * inner) as TensorData };
    const data = new (source.constructor as Float32ArrayConstructor)(n);
    for (let o = 0; o < outer; o += 1)
      data.set(source.subarray((o * total + first) * inner, (o * total + first + rows) * inner), o * rows * inner);
    return { datatype: tensor.datatype, shape, data: data as TensorData };
  });
}

/**
 * The buffers a message can transfer to another thread instead of copying: each tensor's own
 * buffer, and a raw tensor's request body unless it sits in Node's shared pool of small Buffers.
 */
export function transferables(tensors: readonly Tensor[]): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of tensors) {
    if (Array.isArray(t.data) || !(t.data.buffer instanceof ArrayBuffer)) continue;
    if (t.raw && t.data.buffer.byteLength <= BUFFER_POOL_BYTES) continue;
    seen.add(t.data.buffer);
  }
  return [...seen];
}

/**
 * Grow-only buffers, one per key, that a session worker refills for every batch instead of
 * allocating new ones. Each fresh ArrayBuffer counts as external memory in its thread's V8 heap,
 * and enough of it starts a full mark-compact: at a few hundred image batches a second that was
 * a fifth of the machine's CPU. A key's array is valid until the next call for that key. Each key
 * keeps the largest batch it has held until the worker ends (the model unloads).
 */
export class Scratch {
  private readonly buffers = new Map<string, ArrayBuffer>();

  allocator(key: string): Allocate {
    return (datatype, length) => {
      const Typed = TYPED_ARRAY_OF[datatype];
      const bytes = length * Typed.BYTES_PER_ELEMENT;
      let buffer = this.buffers.get(key);
      if (!buffer || buffer.byteLength < bytes) {
        buffer = new ArrayBuffer(bytes);
        this.buffers.set(key, buffer);
      }
      return new (Typed as unknown as new (b: ArrayBuffer, offset: number, length: number) => NumericData)(buffer, 0, length);
    };
  }
}

/** Tensors as they travel between HTTP, the scheduler and the session workers. */
export const TENSOR_DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES',
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
export const TYPED_ARRAY_OF: Readonly<Record<NumericDatatype, { new (length: number): NumericData; new (buffer: ArrayBuffer): NumericData; BYTES_PER_ELEMENT: number }>> = {
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

/**
 * Concatenates tensors of equal datatype and trailing dims along the first (batch) dimension into
 * one aligned tensor; raw parts are copied here. A single aligned part is returned as it is.
 */
export function concatBatch(parts: readonly Tensor[]): Tensor {
  const [first] = parts;
  if (parts.length === 1 && !first!.raw) return first!;
  const rows = parts.reduce((n, p) => n + (p.shape[0] ?? 1), 0);
  const shape = parts.length === 1 ? first!.shape : [rows, ...first!.shape.slice(1)];
  if (first!.datatype === 'BYTES') {
    return { datatype: first!.datatype, shape, data: parts.flatMap((p) => p.data as string[]) };
  }
  const total = parts.reduce((n, p) => n + elementCount(p.shape), 0);
  const out = new TYPED_ARRAY_OF[first!.datatype](total);
  const bytes = new Uint8Array(out.buffer);
  let offset = 0;
  for (const p of parts) {
    const d = p.data as NumericData;
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), offset);
    offset += d.byteLength;
  }
  return { datatype: first!.datatype, shape, data: out };
}

/** Splits a batched tensor back into parts of the given row counts (the inverse of concatBatch). */
export function splitBatch(tensor: Tensor, rowCounts: readonly number[]): Tensor[] {
  if (rowCounts.length === 1) return [tensor];
  const perRow = elementCount(tensor.shape.slice(1));
  let row = 0;
  return rowCounts.map((rows) => {
    const start = row * perRow;
    const end = (row + rows) * perRow;
    row += rows;
    const data = Array.isArray(tensor.data)
      ? tensor.data.slice(start, end)
      : ((tensor.data as Float32Array).slice(start, end) as TensorData);
    return { datatype: tensor.datatype, shape: [rows, ...tensor.shape.slice(1)], data };
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

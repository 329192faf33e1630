import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS (`module.exports = $root`): Node cannot see `onnx` as a named export.
const { onnx } = onnxProto;

/** ONNX element types by their ONNX Runtime names; the values are `TensorProto.DataType`. */
export const ELEMENT_TYPES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
} as const;

export type ElementType = keyof typeof ELEMENT_TYPES;

/** A fixed size, or a symbolic name (`'batch'`) that ONNX Runtime accepts at any size. */
export type Dim = number | string;

/** A graph input or output. */
export interface ValueSpec {
  name: string;
  type: ElementType;
  dims: readonly Dim[];
  docString?: string;
}

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** A constant tensor: an initializer, or the value of a tensor attribute. */
export interface ConstantTensor {
  name: string;
  type: ElementType;
  dims: readonly number[];
  data: TensorData;
}

/** Attributes are typed explicitly: in JavaScript an int and a float look the same. */
export type AttributeValue =
  | { kind: 'int'; value: number | bigint }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly (number | bigint)[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'strings'; value: readonly string[] }
  | { kind: 'tensor'; value: ConstantTensor };

export const attr = {
  int: (value: number | bigint): AttributeValue => ({ kind: 'int', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  ints: (value: readonly (number | bigint)[]): AttributeValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  strings: (value: readonly string[]): AttributeValue => ({ kind: 'strings', value }),
  tensor: (value: ConstantTensor): AttributeValue => ({ kind: 'tensor', value }),
};

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
  name?: string;
  /** Default the standard domain (''); e.g. 'com.microsoft' for ONNX Runtime's contrib ops. */
  domain?: string;
}

export interface ModelSpec {
  graphName: string;
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  initializers?: readonly ConstantTensor[];
  nodes: readonly NodeSpec[];
  /** Default opset of the standard domain: 17. */
  opset?: number;
  /** Other domains the nodes use, e.g. `{ 'com.microsoft': 1 }`. */
  extraOpsets?: Readonly<Record<string, number>>;
  /** Default 8 (ONNX 1.10 to 1.13, opsets up to 18), the newest onnx-proto knows. */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Written as the model's `metadata_props`; ONNX Runtime reports them as custom metadata. */
  metadata?: Readonly<Record<string, string>>;
}

const TYPED_ARRAY_TYPES: ReadonlyArray<[new (...args: never[]) => TensorData, ElementType[]]> = [
  [Float32Array, ['float32']],
  [Float64Array, ['float64']],
  [Int32Array, ['int32']],
  [BigInt64Array, ['int64']],
  [Uint8Array, ['uint8', 'bool']],
  [Int8Array, ['int8']],
];

/** A constant tensor whose element type follows from its array (`float32`, `int64`, ...). */
export function tensor(name: string, data: TensorData, dims: readonly number[]): ConstantTensor {
  const entry = TYPED_ARRAY_TYPES.find(([ctor]) => data instanceof ctor);
  if (!entry) throw new TypeError(`tensor ${name}: unsupported array type`);
  return checkTensor({ name, type: entry[1][0], dims, data });
}

/** The serialised ModelProto, ready for `InferenceSession.create(bytes)` or a file. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode(modelProto(spec)).finish();
}

export function modelProto(spec: ModelSpec): onnxProto.onnx.IModelProto {
  const opsets = [{ domain: '', version: spec.opset ?? 17 }];
  for (const [domain, version] of Object.entries(spec.extraOpsets ?? {})) opsets.push({ domain, version });
  return {
    irVersion: spec.irVersion ?? 8,
    opsetImport: opsets,
    producerName: spec.producerName ?? 'lathe',
    producerVersion: spec.producerVersion ?? '',
    docString: spec.docString ?? '',
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensorProto),
      node: spec.nodes.map(nodeProto),
    },
  };
}

function valueInfo(value: ValueSpec): onnxProto.onnx.IValueInfoProto {
  const dim = value.dims.map((d) => (typeof d === 'number' ? { dimValue: checkedInt(d, value.name) } : { dimParam: d }));
  return {
    name: value.name,
    docString: value.docString ?? '',
    type: { tensorType: { elemType: ELEMENT_TYPES[value.type], shape: { dim } } },
  };
}

function nodeProto(node: NodeSpec, index: number): onnxProto.onnx.INodeProto {
  return {
    opType: node.op,
    name: node.name ?? `${node.op}_${index}`,
    domain: node.domain ?? '',
    input: [...node.inputs],
    output: [...node.outputs],
    attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attributeProto(name, value)),
  };
}

function attributeProto(name: string, a: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: int64(a.value) };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: Buffer.from(a.value, 'utf8') };
    case 'ints':
      return { name, type: T.INTS, ints: a.value.map(int64) };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'strings':
      return { name, type: T.STRINGS, strings: a.value.map((s) => Buffer.from(s, 'utf8')) };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorProto(a.value) };
    default:
      return assertNever(a);
  }
}

function tensorProto(t: ConstantTensor): onnxProto.onnx.ITensorProto {
  checkTensor(t);
  // raw_data is little-endian by definition; a view over the array avoids a copy of large tables.
  if (endianness() !== 'LE') throw new Error('encodeModel needs a little-endian machine');
  return {
    name: t.name,
    dataType: ELEMENT_TYPES[t.type],
    dims: t.dims.map((d) => checkedInt(d, t.name)),
    rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

function checkTensor(t: ConstantTensor): ConstantTensor {
  const entry = TYPED_ARRAY_TYPES.find(([ctor]) => t.data instanceof ctor);
  if (!entry || !entry[1].includes(t.type)) throw new TypeError(`tensor ${t.name}: ${t.type} cannot be stored in this array type`);
  const count = t.dims.reduce((n, d) => n * d, 1);
  if (count !== t.data.length)
    throw new RangeError(`tensor ${t.name}: dims [${t.dims.join(', ')}] hold ${count} elements, data has ${t.data.length}`);
  return t;
}

function checkedInt(d: number, where: string): number {
  if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${where}: dimension ${d} is not a non-negative integer`);
  return d;
}

/** protobufjs writes int64 fields from a number, or from `{ low, high }` words for values past 2^53. */
function int64(v: number | bigint): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${v} is not a safe integer; pass a bigint`);
    return v;
  }
  const bits = BigInt.asUintN(64, v);
  const words = { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned: false };
  return words as unknown as number;
}

function assertNever(x: never): never {
  throw new Error(`unexpected attribute ${JSON.stringify(x)}`);
}

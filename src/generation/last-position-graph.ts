/**
 * A decoder graph that computes logits for the last position only. Optimum and onnx-community
 * exports run the LM head over every position of `input_ids`, so a prefill of n prompt tokens
 * computes n rows of vocabulary logits (and returns n x vocab floats) of which the decode loop
 * reads one: for a 6-layer, 32 000-token model and a 32-token prompt that head is about 45 % of the
 * prefill's multiply-adds. Serving engines (vLLM, TGI) compute only the rows they sample from; this
 * does the same to an exported graph by slicing the LM head's input to its last position, which
 * leaves decode steps (one position) unchanged and makes a prompt's logits shape [batch, 1, vocab].
 *
 * The rewrite is made on the serialized model without decoding its weights: the graph's node list
 * gets a Slice before the head and the head reads the slice; everything else is copied as bytes.
 * It is only made where the graph shows it is exact (see `headToSlice`).
 *
 * The same rewrite adds two kinds of outputs a decode loop fetches instead of bigger ones: each
 * step's own key and value per layer (`stepSources`), and the greedy token (`GREEDY_TOKEN`). A
 * graph with neither a sliceable head nor step columns is served as exported.
 */
import { createHash } from 'node:crypto';
import { link as hardLink, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS (`module.exports = $root`): Node cannot see `onnx` as a named export.
const { onnx } = onnxProto;

/** Bump when the rewrite changes, so graphs cached by an older one are not reused. */
const REWRITE_VERSION = 3;
const SLICE_OUTPUT = 'lathe/last_position/hidden';
const STARTS = 'lathe/last_position/starts';
const ENDS = 'lathe/last_position/ends';
const AXES = 'lathe/last_position/axes';
const INT64_MAX = 9223372036854775807n;
/** Ops between the head and the `logits` output that keep every element where it is. */
const ELEMENTWISE = new Set(['Identity', 'Cast']);

interface Field {
  field: number;
  /** Where the field's tag starts, and where its value starts and ends (the whole field is [start, end)). */
  start: number;
  valueStart: number;
  end: number;
}

/**
 * The path of a copy of `modelPath` whose LM head sees the last position only, written under
 * `cacheDir` (once per model file; later calls reuse it), or undefined when the graph is not one
 * this rewrite is known to be exact for.
 */
export async function lastPositionGraph(modelPath: string, cacheDir: string): Promise<string | undefined> {
  const source = resolve(modelPath);
  const info = await stat(source);
  const key = createHash('sha256').update(`${REWRITE_VERSION}\0${source}\0${info.size}\0${info.mtimeMs}`).digest('hex').slice(0, 24);
  const dir = join(cacheDir, 'generation-graphs', key);
  const beside = join(dirname(source), `${basename(source, '.onnx')}.${key}.last-position.onnx`);
  const marker = join(dir, 'unchanged');
  for (const written of [join(dir, basename(source)), beside]) if (await exists(written)) return written;
  if (await exists(marker)) return undefined;

  const rewrite = lastPositionRewrite(await readFile(source));
  await mkdir(dir, { recursive: true });
  if (!rewrite) {
    await writeFile(marker, '');
    return undefined;
  }
  // ONNX Runtime reads external data only from inside the graph's own folder (symbolic links
  // resolved): hard links put the weights there without a copy. Across file systems the graph is
  // written beside the exported one instead, and where neither can be written it is served as exported.
  try {
    for (const location of rewrite.externalFiles) {
      const link = join(dir, location);
      await mkdir(dirname(link), { recursive: true });
      await rm(link, { force: true });
      await hardLink(join(dirname(source), location), link);
    }
    return await writeAtomically(join(dir, basename(source)), rewrite.pieces);
  } catch (err) {
    if (rewrite.externalFiles.length === 0) throw err;
    return await writeAtomically(beside, rewrite.pieces).catch(() => undefined);
  }
}

async function writeAtomically(target: string, pieces: Uint8Array[]): Promise<string> {
  const temp = `${target}.${process.pid}.${threadId}.tmp`;
  const file = await open(temp, 'w');
  try {
    await file.writev(pieces);
  } finally {
    await file.close();
  }
  await rename(temp, target);
  return target;
}

/**
 * The rewritten model as byte pieces to write in order, and the external data files its weights
 * name; undefined when neither the head can be sliced nor step columns taken.
 */
export function lastPositionRewrite(model: Uint8Array): { pieces: Uint8Array[]; externalFiles: string[] } | undefined {
  const top = [...fields(model, 0, model.length)];
  const graphField = top.find((f) => f.field === 7);
  if (!graphField) return undefined;
  const opset = top
    .filter((f) => f.field === 8)
    .map((f) => onnx.OperatorSetIdProto.decode(model.subarray(f.valueStart, f.end)))
    .find((o) => !o.domain || o.domain === 'ai.onnx');
  // Slice takes its starts, ends and axes as inputs from opset 10 on.
  if (!opset || Number(opset.version) < 10) return undefined;

  const graphBytes = model.subarray(graphField.valueStart, graphField.end);
  const graph = onnx.GraphProto.decode(graphBytes);
  const head = headToSlice(graph);
  // Names the graph already uses are never added again (a graph that has them is left without them).
  const taken = new Set<string>([
    ...(graph.node ?? []).flatMap((n) => n.output ?? []),
    ...(graph.input ?? []).map((v) => v.name ?? ''),
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
  ]);
  const sources = stepSources(graph);
  const steps = sources?.some((s) => taken.has(s.output)) ? undefined : sources;
  const logits = graph.output?.find((o) => o.name === 'logits');
  // ONNX Runtime's ArgMax takes float logits (fp16 exports' logits are left to the sampler); a
  // negative axis needs opset 11.
  const greedy =
    logits?.type?.tensorType?.elemType === onnx.TensorProto.DataType.FLOAT && Number(opset.version) >= 11 && !taken.has(GREEDY_TOKEN);
  if (head === undefined && steps === undefined) return undefined;
  let graphPieces: Uint8Array[] = [graphBytes];
  if (head !== undefined) {
    const nodeFields = [...fields(graphBytes, 0, graphBytes.length)].filter((f) => f.field === 1);
    const headField = nodeFields[head]!;
    const node = onnx.NodeProto.create({ ...graph.node[head], input: [SLICE_OUTPUT, ...graph.node[head]!.input!.slice(1)] });
    const slice = onnx.NodeProto.create({
      name: 'lathe/last_position/Slice',
      opType: 'Slice',
      input: [graph.node[head]!.input![0]!, STARTS, ENDS, AXES],
      output: [SLICE_OUTPUT],
    });
    const constant = (name: string, value: bigint) =>
      embedded(
        5,
        onnx.TensorProto.encode({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [1], rawData: int64Bytes(value) }).finish(),
      );
    const added = [embedded(1, onnx.NodeProto.encode(slice).finish()), embedded(1, onnx.NodeProto.encode(node).finish())];
    const initializers = [constant(STARTS, -1n), constant(ENDS, INT64_MAX), constant(AXES, -2n)];
    graphPieces = [graphBytes.subarray(0, headField.start), ...added, graphBytes.subarray(headField.end), ...initializers];
  }
  if (greedy) {
    // ArgMax keeps the first of equal values: the lowest id on ties, as the sampler's greedy choice.
    const argmax = onnx.NodeProto.create({
      name: `${GREEDY_TOKEN}/ArgMax`,
      opType: 'ArgMax',
      input: ['logits'],
      output: [GREEDY_TOKEN],
      attribute: [
        { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 },
        { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
      ],
    });
    graphPieces.push(embedded(1, onnx.NodeProto.encode(argmax).finish()));
    const info = onnx.ValueInfoProto.create({ name: GREEDY_TOKEN, type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64 } } });
    graphPieces.push(embedded(12, onnx.ValueInfoProto.encode(info).finish()));
  }
  if (steps !== undefined) {
    for (const { output, source, elemType } of steps) {
      const identity = onnx.NodeProto.create({ name: `${output}/Identity`, opType: 'Identity', input: [source], output: [output] });
      graphPieces.push(embedded(1, onnx.NodeProto.encode(identity).finish()));
      const info = onnx.ValueInfoProto.create({ name: output, type: { tensorType: { elemType } } });
      graphPieces.push(embedded(12, onnx.ValueInfoProto.encode(info).finish()));
    }
  }
  const graphLength = graphPieces.reduce((sum, p) => sum + p.length, 0);
  const pieces = [
    model.subarray(0, graphField.start),
    Uint8Array.of(tag(7, 2)),
    varint(graphLength),
    ...graphPieces,
    model.subarray(graphField.end),
  ];
  const externalFiles = new Set<string>();
  for (const tensor of graph.initializer ?? []) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
    if (location) externalFiles.add(location);
  }
  return { pieces, externalFiles: [...externalFiles] };
}

/**
 * The index of the node whose first input is the hidden state the LM head reads, when slicing that
 * input to its last position along axis -2 is exact: the `logits` output is declared with rank 3
 * ([batch, sequence, vocab]), it comes from a MatMul (or com.microsoft's MatMulNBits, the 4-bit
 * exports' head) through element-wise ops only, and that MatMul's weight is a rank-2 initializer,
 * so its other input is [batch, sequence, hidden]. Anything else (a head that is not found, a
 * weight computed in the graph, a quantized head in another form) is left alone.
 */
function headToSlice(graph: InstanceType<typeof onnx.GraphProto>): number | undefined {
  const output = graph.output?.find((o) => o.name === 'logits');
  if (output?.type?.tensorType?.shape?.dim?.length !== 3) return undefined;
  const producer = new Map<string, number>();
  graph.node!.forEach((n, i) => n.output?.forEach((name) => producer.set(name, i)));
  let at = producer.get('logits');
  for (let hops = 0; at !== undefined && ELEMENTWISE.has(graph.node![at]!.opType ?? ''); hops++) {
    if (hops > 8) return undefined;
    at = producer.get(graph.node![at]!.input?.[0] ?? '');
  }
  if (at === undefined) return undefined;
  const head = graph.node![at]!;
  const weight = graph.initializer?.find((t) => t.name === head.input?.[1]);
  if (head.opType === 'MatMul' && (!head.domain || head.domain === 'ai.onnx')) {
    return weight?.dims?.length === 2 ? at : undefined;
  }
  if (head.opType === 'MatMulNBits' && head.domain === 'com.microsoft') return weight ? at : undefined;
  return undefined;
}

/**
 * For each layer, the key and value a decode step adds to the cache, when every `present.{i}.key`
 * and `.value` output is a Concat of `past_key_values.{i}.*` and that step's part along the
 * sequence axis (Optimum's and onnx-community's exports; attention reads the concatenation): the
 * rewrite then also outputs those parts as `step.{i}.key|value`, so a decode loop can keep the
 * cache in buffers of its own and fetch one column per step instead of the whole cache.
 */
function stepSources(graph: InstanceType<typeof onnx.GraphProto>): Array<{ output: string; source: string; elemType: number }> | undefined {
  const producer = new Map<string, (typeof graph.node)[number]>();
  for (const n of graph.node ?? []) for (const name of n.output ?? []) producer.set(name, n);
  const sources: Array<{ output: string; source: string; elemType: number }> = [];
  for (const output of graph.output ?? []) {
    const match = /^present\.(\d+)\.(key|value)$/.exec(output.name ?? '');
    if (!match) continue;
    const concat = producer.get(output.name!);
    const past = `past_key_values.${match[1]}.${match[2]}`;
    const axis = Number(concat?.attribute?.find((a) => a.name === 'axis')?.i ?? NaN);
    const elemType = output.type?.tensorType?.elemType;
    if (concat?.opType !== 'Concat' || (concat.domain && concat.domain !== 'ai.onnx')) return undefined;
    if (concat.input?.length !== 2 || concat.input[0] !== past || (axis !== 2 && axis !== -2) || !elemType) return undefined;
    sources.push({ output: stepKeyValueName(Number(match[1]), match[2] as 'key' | 'value'), source: concat.input[1]!, elemType });
  }
  return sources.length > 0 && sources.length % 2 === 0 ? sources : undefined;
}

/**
 * The rewritten graph's output holding, for each position it has logits for, the id of the largest
 * one (the first on ties), [batch, positions] INT64: a greedy decode step fetches it instead of the
 * logits (a row of the vocabulary per sequence, copied to JavaScript and scanned there).
 */
export const GREEDY_TOKEN = 'greedy_token';

/** The rewritten graph's output holding a decode step's own key or value of one layer, [batch, kvHeads, tokens, headDim]. */
export const stepKeyValueName = (layer: number, part: 'key' | 'value'): string => `step.${layer}.${part}`;

/** Which of the rewrite's extra outputs a graph with these output names has (DecoderModel's flags of the same names). */
export function servedOutputs(outputNames: readonly string[]): { stepColumns: boolean; greedyToken: boolean } {
  return { stepColumns: outputNames.includes(stepKeyValueName(0, 'key')), greedyToken: outputNames.includes(GREEDY_TOKEN) };
}

/** The fields of the protobuf message in bytes [start, end). */
function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  while (at < end) {
    const fieldStart = at;
    const [key, afterKey] = readVarint(bytes, at);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let valueStart = afterKey;
    switch (wire) {
      case 0:
        at = readVarint(bytes, afterKey)[1];
        break;
      case 1:
        at = afterKey + 8;
        break;
      case 2: {
        const [length, afterLength] = readVarint(bytes, afterKey);
        valueStart = afterLength;
        at = afterLength + length;
        break;
      }
      case 5:
        at = afterKey + 4;
        break;
      default:
        throw new Error(`not an ONNX model: protobuf wire type ${wire} at byte ${fieldStart}`);
    }
    if (at > end) throw new Error(`not an ONNX model: a field runs past its message at byte ${fieldStart}`);
    yield { field, start: fieldStart, valueStart, end: at };
  }
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    value += (bytes[i]! & 0x7f) * scale;
    if (bytes[i]! < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error(`not an ONNX model: a truncated varint at byte ${at}`);
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function tag(field: number, wire: number): number {
  return field * 8 + wire;
}

/** A length-delimited field holding `message`. */
function embedded(field: number, message: Uint8Array): Uint8Array {
  const length = varint(message.length);
  const out = new Uint8Array(1 + length.length + message.length);
  out[0] = tag(field, 2);
  out.set(length, 1);
  out.set(message, 1 + length.length);
  return out;
}

function int64Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, true);
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { batchAxisOf, fullShape, type ModelManifest, type TensorSpec } from '../contracts/model-manifest.js';
import type { NamedTensors, Tensor } from '../contracts/tensor.js';
import { classificationCount } from './classification.js';
import { type DecodedData, PreparsedInferBody } from './json-body.js';
import { decodeJsonTensor, splitInferRequest, takeBinaryInputs, viewBinaryTensor } from './tensor-codec.js';

interface RawInput {
  name: string;
  datatype?: unknown;
  shape?: unknown;
  data?: unknown;
  parameters?: Record<string, unknown>;
}

export interface ParsedInferRequest {
  id?: string;
  inputs: NamedTensors;
  /** Output names, in the order to answer with. */
  outputs: string[];
  /** Outputs to send as binary tensor data rather than JSON numbers. */
  binaryOutputs: Set<string>;
  /** Outputs asked for as their top classes (Triton's classification extension), with how many. */
  classification: Map<string, number>;
  /** Rows along the batch dimension (1 for a model without one). */
  rows: number;
}

const bad = (message: string) => new AppError(ErrorCode.ValidationFailed, message);

/**
 * Parses an Open Inference Protocol infer request (JSON, or JSON header plus binary tensor data)
 * and checks it against the model's manifest: names, datatypes, ranks, fixed dimensions and one
 * batch size shared by all inputs. Every error names the tensor and the problem.
 */
export function parseInferRequest(body: unknown, headerLength: number | undefined, manifest: ModelManifest): ParsedInferRequest {
  let header: unknown = body;
  let binary: Buffer = Buffer.alloc(0);
  let decoded: ReadonlyArray<DecodedData | null> = [];
  if (Buffer.isBuffer(body)) ({ header, binary } = splitInferRequest(body, headerLength));
  // Parsed, and its tensors decoded, by a JSON body worker (oip-json-bodies.ts).
  if (body instanceof PreparsedInferBody) ({ value: header, decoded } = body);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('request body must be a JSON object');
  const request = header as { id?: unknown; inputs?: unknown; outputs?: unknown; parameters?: Record<string, unknown> };
  if (request.id !== undefined && typeof request.id !== 'string') throw bad('"id" must be a string');
  if (!Array.isArray(request.inputs) || request.inputs.length === 0) throw bad('"inputs" must be a non-empty array');
  const rawInputs = request.inputs.map((input, i) => checkRawInput(input, i));
  const binaries = takeBinaryInputs(rawInputs, binary);

  const specs = new Map(manifest.inputs.map((s) => [s.name, s]));
  const inputs: NamedTensors = {};
  for (const [i, raw] of rawInputs.entries()) {
    const spec = specs.get(raw.name);
    const what = `input "${raw.name}"`;
    if (!spec) throw bad(`${what} is not an input of this model (inputs: ${[...specs.keys()].join(', ')})`);
    if (inputs[raw.name]) throw bad(`${what} is given twice`);
    const bytes = binaries.get(raw.name);
    if (bytes === undefined && raw.data === undefined) throw bad(`${what} has neither "data" nor binary_data_size`);
    const tensor = bytes ? viewBinaryTensor(what, raw.datatype, raw.shape, bytes) : jsonTensor(what, raw, decoded[i]);
    checkAgainstSpec(what, tensor, spec, manifest.maxBatchSize);
    inputs[raw.name] = tensor as Tensor;
  }
  const missing = manifest.inputs.filter((s) => !inputs[s.name]).map((s) => `"${s.name}"`);
  if (missing.length > 0) throw bad(`missing input(s) ${missing.join(', ')}`);

  const rows = manifest.maxBatchSize > 0 ? sharedBatchSize(inputs, manifest) : 1;
  const { outputs, binaryOutputs, classification } = requestedOutputs(
    request.outputs,
    manifest,
    request.parameters?.binary_data_output === true,
  );
  return { id: request.id as string | undefined, inputs, outputs, binaryOutputs, classification, rows };
}

/** The input's JSON `data` as a tensor: decoded here, or already by a JSON body worker (same errors). */
function jsonTensor(what: string, raw: RawInput, ready: DecodedData | null | undefined): Tensor {
  if (!ready) return decodeJsonTensor(what, raw.datatype, raw.shape, raw.data);
  if ('error' in ready) throw bad(ready.error);
  return ready.tensor;
}

function checkRawInput(input: unknown, index: number): RawInput {
  if (typeof input !== 'object' || input === null || typeof (input as RawInput).name !== 'string') {
    throw bad(`inputs[${index}] must be an object with a string "name"`);
  }
  const raw = input as RawInput;
  if (raw.parameters !== undefined && (typeof raw.parameters !== 'object' || raw.parameters === null)) {
    throw bad(`input "${raw.name}": "parameters" must be an object`);
  }
  return raw;
}

function checkAgainstSpec(what: string, tensor: { datatype: string; shape: number[] }, spec: TensorSpec, maxBatchSize: number): void {
  if (tensor.datatype !== spec.datatype) {
    throw bad(`${what} has datatype ${tensor.datatype}; the model takes ${spec.datatype}`);
  }
  const expected = fullShape(spec, maxBatchSize);
  const show = (s: number[]) => `[${s.join(',')}]`;
  if (tensor.shape.length !== expected.length || expected.some((d, i) => d !== -1 && d !== tensor.shape[i])) {
    throw bad(`${what} has shape ${show(tensor.shape)}; the model takes ${show(expected)} (-1: any size)`);
  }
  const axis = batchAxisOf(spec, maxBatchSize);
  if (axis !== null && (tensor.shape[axis]! < 1 || tensor.shape[axis]! > maxBatchSize)) {
    throw bad(`${what} has batch size ${tensor.shape[axis]} (dimension ${axis}); this model takes 1 to ${maxBatchSize}`);
  }
}

function sharedBatchSize(inputs: NamedTensors, manifest: ModelManifest): number {
  const sizes = new Map<number, string>();
  for (const spec of manifest.inputs) {
    const axis = batchAxisOf(spec, manifest.maxBatchSize);
    if (axis === null) continue;
    const size = inputs[spec.name]!.shape[axis]!;
    if (!sizes.has(size)) sizes.set(size, `${size} (input "${spec.name}")`);
  }
  if (sizes.size > 1) throw bad(`inputs disagree on the batch size: ${[...sizes.values()].join(' vs ')}`);
  return [...sizes.keys()][0]!;
}

function requestedOutputs(
  raw: unknown,
  manifest: ModelManifest,
  allBinary: boolean,
): Pick<ParsedInferRequest, 'outputs' | 'binaryOutputs' | 'classification'> {
  const known = manifest.outputs.map((o) => o.name);
  const classification = new Map<string, number>();
  if (raw === undefined) return { outputs: known, binaryOutputs: new Set(allBinary ? known : []), classification };
  if (!Array.isArray(raw) || raw.length === 0) throw bad('"outputs" must be a non-empty array when given');
  const outputs: string[] = [];
  const binaryOutputs = new Set<string>();
  for (const [i, o] of raw.entries()) {
    const name = (o as { name?: unknown })?.name;
    if (typeof name !== 'string') throw bad(`outputs[${i}] must be an object with a string "name"`);
    if (!known.includes(name)) throw bad(`output "${name}" is not an output of this model (outputs: ${known.join(', ')})`);
    outputs.push(name);
    const parameters = (o as { parameters?: { binary_data?: unknown; classification?: unknown } }).parameters;
    if (parameters?.binary_data === true || (parameters?.binary_data === undefined && allBinary)) binaryOutputs.add(name);
    const count = classificationCount(name, parameters?.classification);
    if (count !== undefined) classification.set(name, count);
  }
  return { outputs, binaryOutputs, classification };
}

import ort from 'onnxruntime-node';
import type { TensorSpec } from '../contracts/model-manifest.js';
import { DATATYPE_OF_ORT } from '../runtime/ort-types.js';

export interface OnnxSignature {
  inputs: TensorSpec[];
  /** Same as inputs; shapes are full (batch dimension included), symbolic dimensions as -1. */
  outputs: TensorSpec[];
  /** Whether every input and output starts with a symbolic dimension: a batch the server can merge requests along. */
  symbolicFirst: boolean;
}

/**
 * Inputs and outputs as ONNX Runtime sees them, read by opening a session on the file (external
 * data files must sit beside it), so a model the runtime cannot load fails here, not in the server.
 */
export async function readSignature(path: string): Promise<OnnxSignature> {
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    const inputs = session.inputMetadata.map((m) => spec(m, 'input'));
    const outputs = session.outputMetadata.map((m) => spec(m, 'output'));
    const all = [...session.inputMetadata, ...session.outputMetadata];
    const symbolicFirst = all.every((m) => m.isTensor && m.shape.length > 0 && !isFixed(m.shape[0]!));
    return { inputs, outputs, symbolicFirst };
  } finally {
    await session.release();
  }
}

function spec(m: ort.InferenceSession.ValueMetadata, kind: string): TensorSpec {
  if (!m.isTensor) throw new Error(`${kind} "${m.name}" is not a tensor; Lathe serves tensor inputs and outputs only`);
  const datatype = DATATYPE_OF_ORT[m.type];
  if (!datatype) throw new Error(`${kind} "${m.name}" has element type ${m.type}, which Lathe does not serve`);
  return { name: m.name, datatype, shape: m.shape.map((d) => (isFixed(d) ? d : -1)) };
}

function isFixed(d: number | string): d is number {
  return typeof d === 'number' && d >= 0;
}

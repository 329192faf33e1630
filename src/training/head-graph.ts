import { attr } from '../onnx/onnx-builder.js';
import type { GraphNodes } from './graph-nodes.js';
import { headLayout } from './head-layout.js';
import type { HeadSpec } from './types.js';

/** Value names of one dense layer's parameters in a graph. */
export interface LayerParams {
  weight: string;
  bias: string;
}

/** Forward values the backward pass needs. */
export interface Forward {
  logits: string;
  /** Input of the last layer, after dropout. */
  lastInput: string;
  /** mlp only: pre-activation, activation, and (gelu) the normal CDF of the pre-activation. */
  preActivation?: string;
  activation?: string;
  cdf?: string;
}

/** Splits the flat parameter vector into per-layer weight matrices and biases (see headLayout). */
export function splitParamNodes(g: GraphNodes, head: HeadSpec, params: string): LayerParams[] {
  const layout = headLayout(head);
  const sizes = g.int64s(
    'split_sizes',
    layout.slices.map((s) => s.size),
  );
  const parts = g.ops('Split', [params, sizes], layout.slices.length, { axis: attr.int(0) });
  return layout.layers.map((dims, i) => ({
    weight: g.op('Reshape', [parts[2 * i]!, g.int64s('shape', dims)]),
    bias: parts[2 * i + 1]!,
  }));
}

/**
 * logits = [dropout](x)·W + b for linear; [dropout](act(x·W1 + b1))·W2 + b2 for mlp. `mask` is the
 * inverted-dropout mask (0 or 1 / (1 - p)) over the last layer's input, during training only.
 */
export function forwardNodes(g: GraphNodes, head: HeadSpec, x: string, layers: LayerParams[], mask?: string): Forward {
  const gemm = (input: string, layer: LayerParams) => g.op('Gemm', [input, layer.weight, layer.bias]);
  if (head.kind === 'linear') {
    const lastInput = mask ? g.mul(x, mask) : x;
    return { logits: gemm(lastInput, layers[0]!), lastInput };
  }
  const preActivation = gemm(x, layers[0]!);
  const { activation, cdf } = activationNodes(g, head.activation ?? 'relu', preActivation);
  const lastInput = mask ? g.mul(activation, mask) : activation;
  return { logits: gemm(lastInput, layers[1]!), lastInput, preActivation, activation, cdf };
}

function activationNodes(g: GraphNodes, kind: NonNullable<HeadSpec['activation']>, z: string): { activation: string; cdf?: string } {
  switch (kind) {
    case 'relu':
      return { activation: g.op('Relu', [z]) };
    case 'tanh':
      return { activation: g.op('Tanh', [z]) };
    case 'gelu': {
      // Exact GELU, z * Phi(z) with Phi(z) = (1 + erf(z / sqrt 2)) / 2; opset 17 has no Gelu op.
      const erf = g.op('Erf', [g.mul(z, g.scalar(Math.SQRT1_2))]);
      const cdf = g.mul(g.add(erf, g.scalar(1)), g.scalar(0.5));
      return { activation: g.mul(z, cdf), cdf };
    }
    default:
      return assertNever(kind);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected activation ${String(x)}`);
}

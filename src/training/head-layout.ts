import type { Rng } from './rng.js';
import type { HeadSpec, HeadWeights } from './types.js';

/**
 * A head's parameters live in one flat float32 vector, layer by layer, each layer's weight
 * (inputDim × outputDim, row-major) then its bias: one tensor in and out of every training step,
 * and one elementwise update over all of them.
 */
export interface ParamSlice {
  name: string;
  dims: number[];
  offset: number;
  size: number;
  /** Weight matrices take weight decay; biases do not. */
  decay: boolean;
}

export interface HeadLayout {
  slices: ParamSlice[];
  size: number;
  /** [inputDim, outputDim] per dense layer, first first. */
  layers: Array<[number, number]>;
}

export function layerDims(head: HeadSpec): Array<[number, number]> {
  if (head.kind === 'linear') return [[head.inputDim, head.outputDim]];
  const hidden = head.hidden ?? 0;
  return [
    [head.inputDim, hidden],
    [hidden, head.outputDim],
  ];
}

export function headLayout(head: HeadSpec): HeadLayout {
  const layers = layerDims(head);
  const slices: ParamSlice[] = [];
  let offset = 0;
  layers.forEach(([inDim, outDim], i) => {
    slices.push({ name: `w${i + 1}`, dims: [inDim, outDim], offset, size: inDim * outDim, decay: true });
    offset += inDim * outDim;
    slices.push({ name: `b${i + 1}`, dims: [outDim], offset, size: outDim, decay: false });
    offset += outDim;
  });
  return { slices, size: offset, layers };
}

/**
 * Seeded initialisation, biases zero. Hidden layers feeding relu/gelu: He uniform
 * U(±sqrt(6 / fanIn)); layers feeding tanh and output layers: Xavier (Glorot) uniform
 * U(±sqrt(6 / (fanIn + fanOut))).
 */
export function initParams(head: HeadSpec, rng: Rng): Float32Array {
  const layout = headLayout(head);
  const params = new Float32Array(layout.size);
  layout.layers.forEach(([fanIn, fanOut], i) => {
    const hiddenLayer = i < layout.layers.length - 1;
    const he = hiddenLayer && (head.activation ?? 'relu') !== 'tanh';
    const bound = he ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
    const weight = layout.slices[2 * i]!;
    for (let j = 0; j < weight.size; j += 1) params[weight.offset + j] = (2 * rng.nextFloat() - 1) * bound;
  });
  return params;
}

/** The flat vector as layers; the arrays are copies. */
export function splitParams(head: HeadSpec, params: Float32Array): HeadWeights {
  const layout = headLayout(head);
  if (params.length !== layout.size) throw new RangeError(`expected ${layout.size} parameters, got ${params.length}`);
  return {
    layers: layout.layers.map(([inputDim, outputDim], i) => {
      const w = layout.slices[2 * i]!;
      const b = layout.slices[2 * i + 1]!;
      return { inputDim, outputDim, weight: params.slice(w.offset, w.offset + w.size), bias: params.slice(b.offset, b.offset + b.size) };
    }),
  };
}

export function flattenWeights(head: HeadSpec, weights: HeadWeights): Float32Array {
  const layout = headLayout(head);
  if (weights.layers.length !== layout.layers.length)
    throw new RangeError(`expected ${layout.layers.length} layers, got ${weights.layers.length}`);
  const params = new Float32Array(layout.size);
  weights.layers.forEach((layer, i) => {
    const w = layout.slices[2 * i]!;
    const b = layout.slices[2 * i + 1]!;
    if (layer.weight.length !== w.size || layer.bias.length !== b.size) {
      throw new RangeError(`layer ${i + 1}: expected ${w.dims.join('×')} weights and ${b.size} biases`);
    }
    params.set(layer.weight, w.offset);
    params.set(layer.bias, b.offset);
  });
  return params;
}

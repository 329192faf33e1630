import { attr, encodeModel, tensor, type ValueSpec } from '../onnx/onnx-builder.js';
import { GraphNodes } from './graph-nodes.js';
import { forwardNodes, type LayerParams } from './head-graph.js';
import { layerDims } from './head-layout.js';
import type { HeadSpec, HeadWeights } from './types.js';

/**
 * What the exported graph answers besides `logits` [batch, outputDim]:
 * - logits: nothing else (regression heads, or callers that post-process);
 * - probabilities: `probabilities` = softmax(logits) [batch, outputDim];
 * - prediction: `probabilities` and `prediction`, the argmax class, int64 [batch].
 */
export type HeadOutput = 'logits' | 'probabilities' | 'prediction';

export interface ExportOptions {
  output: HeadOutput;
  /** Class names by index, kept in the model's metadata as `lathe.labels` (a JSON array). */
  labels?: readonly string[];
  /** More metadata_props, e.g. the job id and base model. */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * The inference graph of a trained head: input `features` f32 [batch, inputDim], the weights as
 * initializers, no dropout. `lathe.head` in the metadata is the HeadSpec as JSON. Loadable by
 * ONNX Runtime beside the backbone's session (opset 17).
 */
export function exportHeadOnnx(head: HeadSpec, weights: HeadWeights, opts: ExportOptions): Uint8Array {
  const dims = layerDims(head);
  if (weights.layers.length !== dims.length)
    throw new RangeError(`a ${head.kind} head has ${dims.length} layers, the weights ${weights.layers.length}`);
  if (opts.labels && opts.labels.length !== head.outputDim)
    throw new RangeError(`${opts.labels.length} labels for ${head.outputDim} outputs`);
  const g = new GraphNodes();
  const layers: LayerParams[] = weights.layers.map((layer, i) => {
    const [inDim, outDim] = dims[i]!;
    g.initializers.push(tensor(`w${i + 1}`, layer.weight, [inDim, outDim]), tensor(`b${i + 1}`, layer.bias, [outDim]));
    return { weight: `w${i + 1}`, bias: `b${i + 1}` };
  });
  const forward = forwardNodes(g, head, 'features', layers);
  g.rename(forward.logits, 'logits');
  const outputs: ValueSpec[] = [{ name: 'logits', type: 'float32', dims: ['batch', head.outputDim] }];
  if (opts.output !== 'logits') {
    g.op('Softmax', ['logits'], { axis: attr.int(1) }, 'probabilities');
    outputs.push({ name: 'probabilities', type: 'float32', dims: ['batch', head.outputDim] });
  }
  if (opts.output === 'prediction') {
    g.op('ArgMax', ['logits'], { axis: attr.int(1), keepdims: attr.int(0) }, 'prediction');
    outputs.push({ name: 'prediction', type: 'int64', dims: ['batch'] });
  }
  const metadata: Record<string, string> = { ...opts.metadata, 'lathe.head': JSON.stringify(head) };
  if (opts.labels) metadata['lathe.labels'] = JSON.stringify(opts.labels);
  return encodeModel({
    graphName: 'lathe_head',
    opset: 17,
    inputs: [{ name: 'features', type: 'float32', dims: ['batch', head.inputDim] }],
    outputs,
    initializers: g.initializers,
    nodes: g.nodes,
    metadata,
    docString: `Lathe fine-tuned ${head.kind} head: features [batch, ${head.inputDim}] -> ${outputs.map((o) => o.name).join(', ')}`,
  });
}

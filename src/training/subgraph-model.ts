import onnxProto from 'onnx-proto';
import { modelProto, type ModelSpec } from '../onnx/onnx-builder.js';

// onnx-proto is CommonJS (`module.exports = $root`): Node cannot see `onnx` as a named export.
const { onnx } = onnxProto;

/** A graph-valued attribute: `graph` becomes attribute `attribute` of the node named `node`. */
export interface SubgraphAttribute {
  node: string;
  attribute: string;
  /** Only graphName, inputs, outputs, initializers and nodes are used. */
  graph: ModelSpec;
}

/**
 * encodeModel() with graph-valued attributes (a Loop's `body`), which onnx-builder's attribute
 * kinds do not cover: builds the model with the builder, then attaches each subgraph's GraphProto.
 */
export function encodeModelWithSubgraphs(spec: ModelSpec, subgraphs: readonly SubgraphAttribute[]): Uint8Array {
  const model = modelProto(spec);
  const nodes = model.graph?.node ?? [];
  for (const sub of subgraphs) {
    const node = nodes.find((n) => n.name === sub.node);
    if (!node) throw new Error(`no node named ${sub.node} for subgraph ${sub.graph.graphName}`);
    const graph = modelProto(sub.graph).graph!;
    node.attribute = [...(node.attribute ?? []), { name: sub.attribute, type: onnx.AttributeProto.AttributeType.GRAPH, g: graph }];
  }
  return onnx.ModelProto.encode(model).finish();
}

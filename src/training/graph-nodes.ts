import { type AttributeValue, type ConstantTensor, type NodeSpec, tensor } from '../onnx/onnx-builder.js';

/**
 * Collects the nodes and constants of one ONNX graph (or Loop body) with generated, unique value
 * names, so the graph code reads as a chain of operations.
 */
export class GraphNodes {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: ConstantTensor[] = [];
  private count = 0;
  private readonly scalars = new Map<number, string>();

  /** `prefix` keeps a Loop body's names apart from its outer graph's. */
  constructor(private readonly prefix = '') {}

  /** Adds a node with one output and returns the output's name (`output` when given). */
  op(op: string, inputs: readonly string[], attributes?: Record<string, AttributeValue>, output?: string): string {
    const name = output ?? this.fresh(op);
    this.nodes.push({ op, inputs, outputs: [name], attributes, name: `${name}_node` });
    return name;
  }

  /** Adds a node with several outputs, named after `base`. */
  ops(op: string, inputs: readonly string[], outputCount: number, attributes?: Record<string, AttributeValue>): string[] {
    const base = this.fresh(op);
    const outputs = Array.from({ length: outputCount }, (_, i) => `${base}_${i}`);
    this.nodes.push({ op, inputs, outputs, attributes, name: `${base}_node` });
    return outputs;
  }

  constant(label: string, data: Float32Array | BigInt64Array | Int32Array, dims: readonly number[]): string {
    const name = this.fresh(label);
    this.initializers.push(tensor(name, data, dims));
    return name;
  }

  /** A float32 scalar constant, shared by value. */
  scalar(value: number): string {
    let name = this.scalars.get(value);
    if (!name) {
      name = this.constant('scalar', Float32Array.of(value), []);
      this.scalars.set(value, name);
    }
    return name;
  }

  int64s(label: string, values: readonly number[]): string {
    return this.constant(label, BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  /**
   * Gives a node's output the name a graph output must have, rewriting its consumers: an Identity
   * would copy the tensor on every step.
   */
  rename(from: string, to: string): void {
    const producer = this.nodes.find((n) => n.outputs.includes(from));
    if (!producer) throw new Error(`no node produces ${from}`);
    const swap = (names: readonly string[]) => names.map((n) => (n === from ? to : n));
    for (const [i, node] of this.nodes.entries()) this.nodes[i] = { ...node, inputs: swap(node.inputs), outputs: swap(node.outputs) };
  }

  // Elementwise shorthands.
  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  private fresh(label: string): string {
    this.count += 1;
    return `${this.prefix}${label.toLowerCase()}_${this.count}`;
  }
}

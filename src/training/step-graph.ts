import { attr, encodeModel, type ModelSpec, type ValueSpec } from '../onnx/onnx-builder.js';
import { backwardNodes, lossNodes, updateNodes } from './backward-graph.js';
import { GraphNodes } from './graph-nodes.js';
import { forwardNodes, splitParamNodes } from './head-graph.js';
import { headLayout } from './head-layout.js';
import { momentCount, optimizerConstants } from './schedule.js';
import { encodeModelWithSubgraphs } from './subgraph-model.js';
import type { HeadSpec, LossKind, OptimizerSpec } from './types.js';

/**
 * The ONNX graphs a training run executes:
 * - trainLoopModel: `steps` training steps in one ONNX Runtime call (an ONNX Loop over batches);
 * - gradientModel: loss and flat gradient of one batch (tests check it against finite differences);
 * - evalModel: logits for features and a parameter vector (validation, evaluate()).
 */

export interface StepSpec {
  head: HeadSpec;
  loss: LossKind;
  optimizer: OptimizerSpec;
}

const OPSET = 17;

/** Width of the dropout mask: the last layer's input. */
export function dropoutWidth(head: HeadSpec): number {
  return head.kind === 'linear' ? head.inputDim : (head.hidden ?? 0);
}

export function usesDropout(head: HeadSpec): boolean {
  return (head.dropout ?? 0) > 0;
}

const f32 = (name: string, dims: Array<number | string>): ValueSpec => ({ name, type: 'float32', dims });

/**
 * Inputs: the whole `features` [n, D] and `labels` int32 [n] (cross-entropy; one-hot per batch in
 * the graph) or `targets` [n, C] (mse), zero-copy views of the dataset; `indices` int32
 * [steps, batch] picks each step's rows; `rates` (and for adam `epsilons`) [steps] are the per-step
 * scalars of stepScalars(); `masks` [steps, batch, M] the dropout masks; `inv_batch` 1 / batch;
 * `params` and `moment_<i>` the state.
 * Outputs: `params_out`, `moment_<i>_out`, `losses` [steps] (each before its update) and, for
 * cross-entropy, `logits` [steps, batch, C] (training accuracy).
 */
export function trainLoopModel(spec: StepSpec): Uint8Array {
  const { head, loss, optimizer } = spec;
  const size = headLayout(head).size;
  const moments = Array.from({ length: momentCount(optimizer.kind) }, (_, i) => `moment_${i}`);
  const adam = optimizer.kind === 'adam';
  const dropout = usesDropout(head);
  const withLogits = loss === 'cross-entropy';

  const inputs: ValueSpec[] = [
    f32('features', ['n', head.inputDim]),
    loss === 'mse' ? f32('targets', ['n', head.outputDim]) : { name: 'labels', type: 'int32', dims: ['n'] },
    { name: 'indices', type: 'int32', dims: ['steps', 'batch'] },
    f32('rates', ['steps']),
    ...(adam ? [f32('epsilons', ['steps'])] : []),
    ...(dropout ? [f32('masks', ['steps', 'batch', dropoutWidth(head)])] : []),
    f32('inv_batch', []),
    f32('params', [size]),
    ...moments.map((m) => f32(m, [size])),
  ];
  const outputs: ValueSpec[] = [
    f32('params_out', [size]),
    ...moments.map((m) => f32(`${m}_out`, [size])),
    f32('losses', ['steps']),
    ...(withLogits ? [f32('logits', ['steps', 'batch', head.outputDim])] : []),
  ];

  const outer = new GraphNodes();
  const tripCount = outer.op('Gather', [outer.op('Shape', ['indices']), outer.constant('first', BigInt64Array.of(0n), [])]);
  const alwaysTrue = 'loop_true';
  outer.initializers.push({ name: alwaysTrue, type: 'bool', dims: [], data: Uint8Array.of(1) });
  const loopOutputs = outputs.map((o) => o.name);
  outer.nodes.push({ op: 'Loop', inputs: [tripCount, alwaysTrue, 'params', ...moments], outputs: loopOutputs, name: 'train_loop' });

  const body = loopBody(spec, size, moments, withLogits);
  const model: ModelSpec = {
    graphName: 'lathe_train_loop',
    opset: OPSET,
    inputs,
    outputs,
    initializers: outer.initializers,
    nodes: outer.nodes,
  };
  return encodeModelWithSubgraphs(model, [{ node: 'train_loop', attribute: 'body', graph: body }]);
}

/** One training step; reads the outer graph's inputs by name (ONNX outer-scope references). */
function loopBody(spec: StepSpec, size: number, moments: string[], withLogits: boolean): ModelSpec {
  const { head, loss, optimizer } = spec;
  const g = new GraphNodes('s_');
  const pick = (from: string, index: string) => g.op('Gather', [from, index]);
  const rows = pick('indices', 's_iter');
  const x = pick('features', rows);
  const targets = loss === 'mse' ? pick('targets', rows) : oneHot(g, pick('labels', rows), head.outputDim);
  const mask = usesDropout(head) ? pick('masks', 's_iter') : undefined;
  const layers = splitParamNodes(g, head, 's_params');
  const forward = forwardNodes(g, head, x, layers, mask);
  const lossOut = lossNodes(g, loss, forward.logits, targets, 'inv_batch', head.outputDim);
  const constants = optimizerConstants(optimizer);
  const grad = backwardNodes(g, head, x, layers, forward, lossOut.dLogits, mask, constants.weightDecay);
  const updated = updateNodes(g, optimizer.kind, constants, {
    params: 's_params',
    grad,
    moments: moments.map((m) => `s_${m}`),
    rate: pick('rates', 's_iter'),
    epsilon: optimizer.kind === 'adam' ? pick('epsilons', 's_iter') : undefined,
  });
  g.op('Identity', ['s_cond_in'], undefined, 's_cond');
  g.rename(updated.params, 's_params_next');
  moments.forEach((m, i) => g.rename(updated.moments[i]!, `s_${m}_next`));
  g.rename(lossOut.loss, 's_loss');
  if (withLogits) g.rename(forward.logits, 's_logits');
  return {
    graphName: 'train_step',
    inputs: [
      { name: 's_iter', type: 'int64', dims: [] },
      { name: 's_cond_in', type: 'bool', dims: [] },
      f32('s_params', [size]),
      ...moments.map((m) => f32(`s_${m}`, [size])),
    ],
    outputs: [
      { name: 's_cond', type: 'bool', dims: [] },
      f32('s_params_next', [size]),
      ...moments.map((m) => f32(`s_${m}_next`, [size])),
      f32('s_loss', []),
      ...(withLogits ? [f32('s_logits', ['batch', head.outputDim])] : []),
    ],
    initializers: g.initializers,
    nodes: g.nodes,
  };
}

/** Rows of float 0/1 with a 1 at each int32 label. */
function oneHot(g: GraphNodes, labels: string, classes: number): string {
  const depth = g.constant('depth', Int32Array.of(classes), []);
  return g.op('OneHot', [labels, depth, g.constant('off_on', Float32Array.of(0, 1), [2])], { axis: attr.int(-1) });
}

/** `features` [batch, D], `targets` [batch, C], `params`, `inv_batch` (and `mask`) -> `loss`, `grad`, `logits`. */
export function gradientModel(head: HeadSpec, loss: LossKind): Uint8Array {
  const size = headLayout(head).size;
  const g = new GraphNodes();
  const mask = usesDropout(head) ? 'mask' : undefined;
  const layers = splitParamNodes(g, head, 'params');
  const forward = forwardNodes(g, head, 'features', layers, mask);
  const lossOut = lossNodes(g, loss, forward.logits, 'targets', 'inv_batch', head.outputDim);
  const grad = backwardNodes(g, head, 'features', layers, forward, lossOut.dLogits, mask);
  for (const [value, name] of [
    [lossOut.loss, 'loss'],
    [grad, 'grad'],
    [forward.logits, 'logits'],
  ] as const)
    g.rename(value, name);
  return encodeModel({
    graphName: 'lathe_gradient',
    opset: OPSET,
    inputs: [
      f32('features', ['batch', head.inputDim]),
      f32('targets', ['batch', head.outputDim]),
      ...(mask ? [f32('mask', ['batch', dropoutWidth(head)])] : []),
      f32('params', [size]),
      f32('inv_batch', []),
    ],
    outputs: [f32('loss', []), f32('grad', [size]), f32('logits', ['batch', head.outputDim])],
    initializers: g.initializers,
    nodes: g.nodes,
  });
}

/** `features` [batch, D] and `params` -> `logits` [batch, C], without dropout. */
export function evalModel(head: HeadSpec): Uint8Array {
  const g = new GraphNodes();
  const forward = forwardNodes(g, head, 'features', splitParamNodes(g, head, 'params'));
  g.rename(forward.logits, 'logits');
  return encodeModel({
    graphName: 'lathe_eval',
    opset: OPSET,
    inputs: [f32('features', ['batch', head.inputDim]), f32('params', [headLayout(head).size])],
    outputs: [f32('logits', ['batch', head.outputDim])],
    initializers: g.initializers,
    nodes: g.nodes,
  });
}

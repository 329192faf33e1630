import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnnxTrainEngine } from './onnx-train-engine.js';
import { referenceGradient, referenceUpdate } from './reference.js';
import { learningRateAt, momentCount, stepScalars } from './schedule.js';
import { Trainer } from './trainer.js';
import type { HeadSpec, OptimizerSpec, StepMetrics } from './types.js';

/**
 * One weight, one bias, one example: x = 2, y = 1, loss (w x + b - y)^2, starting at w = 1, b = 0.5.
 * Step 1: z = 2.5, dL/dz = 3, so g = (dw, db) = (6, 3).
 */
const HEAD: HeadSpec = { kind: 'linear', inputDim: 1, outputDim: 1 };
const close = (actual: number, expected: number, what: string, tolerance = 2e-7) =>
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: ${actual}, expected ${expected}`);

/** Two steps in one ONNX Runtime call, as the trainer runs them; returns [w, b] and the moments. */
async function twoSteps(optimizer: OptimizerSpec) {
  const engine = await OnnxTrainEngine.create({ head: HEAD, loss: 'mse', optimizer }, 1);
  const scalars = [0, 1].map((step) => stepScalars(optimizer, step, 2));
  try {
    const out = await engine.runSteps({
      features: Float32Array.of(2),
      targets: Float32Array.of(1),
      n: 1,
      indices: Int32Array.of(0, 0),
      steps: 2,
      batch: 1,
      rates: Float32Array.from(scalars, (s) => s.rate),
      epsilons: optimizer.kind === 'adam' ? Float32Array.from(scalars, (s) => s.epsilon) : undefined,
      params: Float32Array.of(1, 0.5),
      moments: Array.from({ length: momentCount(optimizer.kind) }, () => new Float32Array(2)),
    });
    return { w: out.params[0]!, b: out.params[1]!, moments: out.moments, losses: out.losses };
  } finally {
    await engine.release();
  }
}

describe('optimizers, two hand-computed steps', () => {
  it('sgd: w -= lr g', async () => {
    // lr 0.05: (1, 0.5) - 0.05 (6, 3) = (0.7, 0.35); then z = 1.75, dL/dz = 1.5, g = (3, 1.5): (0.55, 0.275).
    const r = await twoSteps({ kind: 'sgd', learningRate: 0.05 });
    close(r.w, 0.55, 'w');
    close(r.b, 0.275, 'b');
    close(r.losses[0]!, 2.25, 'loss before step 1');
    close(r.losses[1]!, 0.5625, 'loss before step 2');
  });

  it('sgd with weight decay: the weight, not the bias, gets weightDecay w added to its gradient', async () => {
    // Step 1: gw = 6 + 0.1 * 1 = 6.1, w = 0.695, b = 0.35. Step 2: z = 1.74, dL/dz = 1.48,
    // gw = 2.96 + 0.1 * 0.695 = 3.0295, w = 0.695 - 0.05 * 3.0295 = 0.543525; b = 0.35 - 0.074 = 0.276.
    const r = await twoSteps({ kind: 'sgd', learningRate: 0.05, weightDecay: 0.1 });
    close(r.w, 0.543525, 'w');
    close(r.b, 0.276, 'b');
  });

  it('momentum: v = mu v + g, w -= lr v', async () => {
    // Step 1: v = (6, 3), (0.7, 0.35). Step 2: g = (3, 1.5), v = 0.9 (6, 3) + g = (8.4, 4.2),
    // (0.7, 0.35) - 0.05 (8.4, 4.2) = (0.28, 0.14).
    const r = await twoSteps({ kind: 'momentum', learningRate: 0.05, momentum: 0.9 });
    close(r.w, 0.28, 'w');
    close(r.b, 0.14, 'b');
    close(r.moments[0]![0]!, 8.4, 'velocity of w');
    close(r.moments[0]![1]!, 4.2, 'velocity of b');
  });

  it('adam with bias correction', async () => {
    // Step 1: m = 0.1 g = (0.6, 0.3), v = 0.001 g^2 = (0.036, 0.009); corrected m/sqrt(v) = sign(g):
    // (1, 0.5) - 0.1 (1, 1) = (0.9, 0.4) (to 1e-9, from epsilon). Step 2: z = 2.2, dL/dz = 2.4,
    // g = (4.8, 2.4), m = 0.9 m + 0.1 g = (1.02, 0.51), v = 0.999 v + 0.001 g^2 = (0.059004, 0.014751);
    // w = 0.9 - 0.1 (1.02 / 0.19) / (sqrt(0.059004 / 0.001999)) = 0.80118742, b = 0.30118742.
    const r = await twoSteps({ kind: 'adam', learningRate: 0.1 });
    close(r.w, 0.80118742, 'w', 1e-6);
    close(r.b, 0.30118742, 'b', 1e-6);
    // The graph keeps m / (1 - b1) and v / (1 - b2).
    close(r.moments[0]![0]! * 0.1, 1.02, 'm of w');
    close(r.moments[0]![1]! * 0.1, 0.51, 'm of b');
    close(r.moments[1]![0]! * 0.001, 0.059004, 'v of w');
    close(r.moments[1]![1]! * 0.001, 0.014751, 'v of b');
  });
});

describe('learning-rate schedules', () => {
  const at = (spec: Partial<OptimizerSpec>, total: number) =>
    Array.from({ length: total }, (_, step) => learningRateAt({ kind: 'sgd', learningRate: 0.1, ...spec }, step, total));
  const allClose = (actual: number[], expected: number[]) => actual.forEach((a, i) => close(a, expected[i]!, `step ${i}`, 1e-12));

  it('constant, with and without warm-up', () => {
    allClose(at({}, 4), [0.1, 0.1, 0.1, 0.1]);
    allClose(at({ warmupSteps: 4 }, 6), [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]);
  });

  it('linear decays to 0 over the steps after warm-up', () => {
    allClose(at({ schedule: 'linear' }, 4), [0.1, 0.075, 0.05, 0.025]);
    allClose(at({ schedule: 'linear', warmupSteps: 2 }, 10), [0.05, 0.1, 0.1, 0.0875, 0.075, 0.0625, 0.05, 0.0375, 0.025, 0.0125]);
  });

  it('cosine: lr (1 + cos(pi p)) / 2', () => {
    // p = (step - 2) / 8: 0.1 (1 + cos(pi / 4)) / 2 = 0.0853553390593, (1 + cos(3 pi / 8)) gives 0.0691341716183.
    allClose(
      at({ schedule: 'cosine', warmupSteps: 2 }, 10),
      [0.05, 0.1, 0.1, 0.0961939766256, 0.0853553390593, 0.0691341716183, 0.05, 0.0308658283817, 0.0146446609407, 0.0038060233744],
    );
  });

  it('the trainer applies the schedule step by step (sgd, adam with weight decay)', async () => {
    for (const optimizer of [
      { kind: 'sgd', learningRate: 0.1, schedule: 'linear', warmupSteps: 2 },
      { kind: 'adam', learningRate: 0.05, schedule: 'cosine', warmupSteps: 3, weightDecay: 0.01 },
      { kind: 'momentum', learningRate: 0.02, momentum: 0.8, schedule: 'cosine' },
    ] satisfies OptimizerSpec[]) {
      const trainer = new Trainer(
        { head: HEAD, loss: 'mse', optimizer, epochs: 10, batchSize: 1, seed: 3, stepsPerRun: 4 },
        { features: Float32Array.of(2), n: 1, targets: Float32Array.of(1) },
      );
      const start = trainer.weights().layers[0]!;
      let params: Float64Array = Float64Array.of(start.weight[0]!, start.bias[0]!);
      let moments: Float64Array[] = Array.from({ length: momentCount(optimizer.kind) }, () => new Float64Array(2));
      const reported: StepMetrics[] = [];
      while (!trainer.finished) await trainer.runEpoch((m) => void reported.push(m));
      await trainer.close();
      assert.deepEqual(
        reported.map((m) => m.step),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      for (let step = 0; step < 10; step += 1) {
        const lr = learningRateAt(optimizer, step, 10);
        close(reported[step]!.learningRate, lr, `reported rate at step ${step}`, 1e-12);
        const { grad } = referenceGradient(HEAD, 'mse', params, { x: [2], targets: [1], rows: 1 });
        ({ params, moments } = referenceUpdate(HEAD, optimizer, params, grad, moments, step, lr));
      }
      const end = trainer.weights().layers[0]!;
      close(end.weight[0]!, params[0]!, `${optimizer.kind} w`, 1e-5);
      close(end.bias[0]!, params[1]!, `${optimizer.kind} b`, 1e-5);
    }
  });
});

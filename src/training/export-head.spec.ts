import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { exportHeadOnnx } from './export-head.js';
import { flattenWeights } from './head-layout.js';
import { referenceGradient } from './reference.js';
import { clusters } from './synthetic-data.js';
import { Trainer } from './trainer.js';
import type { HeadSpec } from './types.js';

const HEADS: HeadSpec[] = [
  { kind: 'linear', inputDim: 12, outputDim: 5 },
  { kind: 'mlp', inputDim: 12, outputDim: 5, hidden: 20, activation: 'gelu', dropout: 0.3 },
  { kind: 'mlp', inputDim: 12, outputDim: 5, hidden: 20, activation: 'tanh' },
];

describe('exportHeadOnnx', () => {
  for (const head of HEADS) {
    it(`gives the trainer's logits for a trained ${[head.kind, head.activation].filter(Boolean).join(' ')} head`, async () => {
      const data = clusters(300, 12, 5, 4);
      const trainer = new Trainer(
        { head, loss: 'cross-entropy', optimizer: { kind: 'adam', learningRate: 0.01 }, epochs: 2, batchSize: 32, seed: 9 },
        data,
      );
      while (!trainer.finished) await trainer.runEpoch();
      const weights = trainer.weights();
      const labels = ['a', 'b', 'c', 'd', 'e'];
      const bytes = exportHeadOnnx(head, weights, { output: 'prediction', labels, metadata: { 'lathe.job': 'ftjob-1' } });

      const session = await ort.InferenceSession.create(bytes);
      const out = await session.run({ features: new ort.Tensor('float32', data.features, [data.n, 12]) });
      await session.release();
      assert.deepEqual(session.outputNames, ['logits', 'probabilities', 'prediction']);
      const logits = out.logits!.data as Float32Array;
      const probabilities = out.probabilities!.data as Float32Array;
      const prediction = out.prediction!.data as BigInt64Array;

      // The trainer's own evaluation path (its eval graph) and the float64 reference, both within 1e-5.
      const params = flattenWeights(head, weights);
      const reference = referenceGradient(head, 'cross-entropy', params, {
        x: data.features,
        targets: new Float32Array(data.n * 5),
        rows: data.n,
      }).logits;
      let worst = 0;
      for (let i = 0; i < logits.length; i += 1) worst = Math.max(worst, Math.abs(logits[i]! - reference[i]!));
      assert.ok(worst < 1e-5, `largest difference from the reference ${worst}`);
      const evaluation = await trainer.evaluate(data);
      await trainer.close();
      let loss = 0;
      for (let r = 0; r < data.n; r += 1) {
        const row = probabilities.subarray(r * 5, r * 5 + 5);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
        const best = row.indexOf(Math.max(...row));
        assert.equal(prediction[r], BigInt(best));
        loss -= Math.log(row[data.labels![r]!]!) / data.n;
      }
      assert.ok(Math.abs(loss - evaluation.loss) < 1e-5, `exported loss ${loss}, trainer's ${evaluation.loss}`);
    });
  }

  it('writes metadata and the requested outputs only', async () => {
    const head: HeadSpec = { kind: 'linear', inputDim: 2, outputDim: 1 };
    const weights = { layers: [{ inputDim: 2, outputDim: 1, weight: Float32Array.of(3, -2), bias: Float32Array.of(1) }] };
    const session = await ort.InferenceSession.create(exportHeadOnnx(head, weights, { output: 'logits', metadata: { 'lathe.job': 'j' } }));
    assert.deepEqual(session.outputNames, ['logits']);
    const { logits } = await session.run({ features: new ort.Tensor('float32', Float32Array.of(1, 1, 0.5, -1), [2, 2]) });
    await session.release();
    assert.deepEqual(Array.from(logits!.data as Float32Array), [2, 4.5]);
    assert.throws(() => exportHeadOnnx(head, weights, { output: 'logits', labels: ['x', 'y'] }), /2 labels for 1 outputs/);
    const model = onnxProto.onnx.ModelProto.decode(
      exportHeadOnnx(head, weights, { output: 'logits', labels: ['score'], metadata: { 'lathe.job': 'j' } }),
    );
    assert.deepEqual(Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value])), {
      'lathe.job': 'j',
      'lathe.head': JSON.stringify(head),
      'lathe.labels': '["score"]',
    });
  });
});

/** Quick in-process numbers on the bench-size decoder: node dist/bench/generate/probe.js */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeEngine, type DecoderModel, type SequenceSink } from '../../src/generation/decode-engine.js';
import type { NamedTensors, Tensor } from '../../src/contracts/tensor.js';
import * as ort from 'onnxruntime-node';
import { cachedDecoderModel } from '../../test/support/decoder-model.js';
import { openSession, prefillSeconds, rawDecodeLimit, transformersJs } from './in-process.js';

const model = await cachedDecoderModel(join(tmpdir(), 'lathe-bench-models'), 'bench');
const prompts = Array.from({ length: 4 }, (_, p) => Array.from({ length: 64 + p * 16 }, (_, i) => (i * 31 + p * 7) % 31000));
const session = await openSession(model);
console.log('prefill 64 tokens (s):', await prefillSeconds(session, model, prompts[0]!));
for (const rows of [1, 4, 16]) console.log(`raw limit rows=${rows}:`, await rawDecodeLimit(session, model, rows, 64, 64));
console.log('transformers.js one at a time:', await transformersJs(model, prompts, 64));

const engineModel: DecoderModel = {
  layout: { layers: model.dims.layers, kvHeads: model.dims.kvHeads, headDim: model.dims.headDim, datatype: 'FP32' },
  positionIds: true,
  async run(feeds: NamedTensors, outputs: string[]) {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds))
      inputs[name] = new ort.Tensor(t.datatype === 'INT64' ? 'int64' : 'float32', t.data as Float32Array, t.shape);
    const result = await session.run(inputs, outputs);
    const out: NamedTensors = {};
    for (const name of outputs)
      out[name] = { datatype: 'FP32', shape: [...result[name]!.dims], data: result[name]!.data as Float32Array } as Tensor;
    return out;
  },
};
for (const concurrency of [1, 16]) {
  const engine = new DecodeEngine(engineModel, { maxSequences: 16, kvBudgetTokens: 1 << 20, prefillChunkTokens: 2048, maxWaiting: 64 });
  const started = performance.now();
  let tokens = 0;
  await Promise.all(
    Array.from({ length: concurrency }, (_, c) =>
      (async () => {
        for (let r = 0; r < (concurrency === 1 ? 4 : 2); r++) {
          await new Promise<void>((resolve) => {
            let n = 0;
            const sink: SequenceSink = {
              next(logits) {
                let best = 0;
                for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
                n++;
                tokens++;
                if (n >= 64) resolve();
                return { token: best, done: n >= 64 };
              },
            };
            engine.submit({ id: c * 100 + r, prompt: prompts[(c + r) % 4]!, maxTokens: 64, sink });
          });
        }
      })(),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`engine c=${concurrency}:`, { tokens, seconds, tokensPerSecond: tokens / seconds, stats: engine.stats() });
}
await session.release();

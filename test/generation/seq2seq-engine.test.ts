/**
 * The encoder-decoder loop on the generated Marian-layout translator, ONNX Runtime in process:
 * sequences of different source lengths share cohorts (padded sources, encoder_attention_mask),
 * cohorts started at different steps take turns, beams reorder their rows, and a cancelled
 * sequence leaves without disturbing the others; every output must be the translation known by
 * construction.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { NamedTensors, Tensor } from '../../src/contracts/tensor.js';
import { NEUTRAL_SAMPLING, Sampler } from '../../src/generation/sampler.js';
import { SequenceRng } from '../../src/generation/prng.js';
import { Seq2SeqEngine, type Seq2SeqModel } from '../../src/generation/seq2seq-engine.js';
import { BeamSearch, type LogitsRules, type Search, SingleSearch } from '../../src/generation/seq2seq-search.js';
import { makeTempDir } from '../support/processes.js';
import { DICTIONARY, type Seq2SeqFixture, writeSeq2SeqFixture } from '../support/seq2seq-fixture.js';

const ORT_TYPE = { FP32: 'float32', INT64: 'int64', BOOL: 'bool' } as const;

async function sessionRun(session: ort.InferenceSession, feeds: NamedTensors, outputs: string[]): Promise<NamedTensors> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds))
    inputs[name] = new ort.Tensor(ORT_TYPE[t.datatype as keyof typeof ORT_TYPE], t.data as Float32Array, t.shape);
  const result = await session.run(inputs, outputs);
  const out: NamedTensors = {};
  for (const name of outputs)
    out[name] = { datatype: 'FP32', shape: [...result[name]!.dims], data: result[name]!.data as Float32Array } as Tensor;
  return out;
}

describe('Seq2SeqEngine on a generated Marian-layout export', () => {
  let root: string;
  let fixture: Seq2SeqFixture;
  let encoder: ort.InferenceSession;
  let decoder: ort.InferenceSession;
  let decodes = 0;
  let model: Seq2SeqModel;

  before(async () => {
    root = await makeTempDir('lathe-seq2seq-engine-');
    fixture = await writeSeq2SeqFixture(join(root, 'marian'), 'marian');
    encoder = await ort.InferenceSession.create(join(fixture.dir, 'onnx/encoder_model.onnx'));
    decoder = await ort.InferenceSession.create(join(fixture.dir, 'onnx/decoder_model_merged.onnx'));
    const hidden = Object.keys(fixture.vocab).length + 3;
    model = {
      layers: 2,
      decoderHeads: 1,
      decoderHeadDim: 8,
      encoderHeads: 1,
      encoderHeadDim: hidden,
      datatype: 'FP32',
      useCacheBranch: true,
      encoderMask: true,
      padTokenId: fixture.vocab['<pad>']!,
      encode: async (feeds) => (await sessionRun(encoder, feeds, ['last_hidden_state'])).last_hidden_state!,
      decode: (feeds, outputs) => {
        decodes += 1;
        return sessionRun(decoder, feeds, outputs);
      },
    };
  });

  after(async () => {
    await encoder?.release();
    await decoder?.release();
    await rm(root, { recursive: true, force: true });
  });

  const vocab = () => fixture.vocab;
  const eos = () => vocab()['</s>']!;
  const rules = (): LogitsRules => ({ eos: [eos()], maxNewTokens: 100, badTokens: [vocab()['<pad>']!], minNewTokens: 0, noRepeatNgram: 0 });
  /** Source ids of `n` dictionary words starting at `from`, and the target ids known by construction. */
  const sentence = (from: number, n: number) => {
    const words = Array.from({ length: n }, (_, k) => DICTIONARY[(from + k) % DICTIONARY.length]!);
    return { source: [...words.map(([en]) => vocab()[`▁${en}`]!), eos()], target: words.map(([, de]) => vocab()[`▁${de}`]!) };
  };
  const search = (beams: number): Search =>
    beams > 1
      ? new BeamSearch(Object.keys(vocab()).length, rules(), { numBeams: beams, lengthPenalty: 1, earlyStopping: false })
      : new SingleSearch(new Sampler(Object.keys(vocab()).length), rules(), { ...NEUTRAL_SAMPLING, temperature: 0 }, new SequenceRng(1));

  function submit(engine: Seq2SeqEngine, id: number, source: number[], beams: number): Promise<number[]> {
    return new Promise((resolve, reject) =>
      engine.submit({ id, source, decoderPrompt: [vocab()['<pad>']!], search: search(beams), width: beams, resolve, reject }),
    );
  }

  it('runs 16 sequences of 1 to 31 words, greedy and 4 beams, as one cohort, and gives each its translation', async () => {
    const engine = new Seq2SeqEngine(model, { maxRows: 64, maxWaitingRows: 0 });
    const cases = Array.from({ length: 16 }, (_, i) => ({ ...sentence(i, 1 + ((i * 7) % 31)), beams: i % 2 === 0 ? 1 : 4 }));
    const before = decodes;
    const outputs = await Promise.all(cases.map((c, i) => submit(engine, i + 1, c.source, c.beams)));
    assert.deepEqual(
      outputs,
      cases.map((c) => c.target),
    );
    const stats = engine.stats();
    assert.equal(stats.encodes, 1);
    // The longest source has 31 words + </s>: 32 decoder steps for the one cohort, every row in each.
    assert.equal(decodes - before, 32);
    assert.equal(stats.maxBatch, 8 + 8 * 4);
    assert.deepEqual([stats.running, stats.waiting, stats.cohorts], [0, 0, 0]);
  });

  it('starts sequences that arrive while others decode as a new cohort, and both cohorts finish right', async () => {
    const engine = new Seq2SeqEngine(model, { maxRows: 64, maxWaitingRows: 0 });
    const first = sentence(0, 40);
    const firstDone = submit(engine, 1, first.source, 4);
    while (engine.stats().steps < 5) await new Promise((resolve) => setImmediate(resolve));
    const late = [sentence(3, 7), sentence(5, 12)];
    const lateDone = late.map((c, i) => submit(engine, 10 + i, c.source, 1));
    while (engine.stats().cohorts < 2) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      await Promise.all(lateDone),
      late.map((c) => c.target),
    );
    assert.deepEqual(await firstDone, first.target);
    assert.equal(engine.stats().encodes, 2);
  });

  it('ends a cancelled sequence before its next step; the rest of its cohort goes on', async () => {
    const engine = new Seq2SeqEngine(model, { maxRows: 64, maxWaitingRows: 0 });
    const long = sentence(1, 60);
    const keep = sentence(2, 50);
    const cancelled = submit(engine, 1, long.source, 4);
    const kept = submit(engine, 2, keep.source, 4);
    while (engine.stats().steps < 3) await new Promise((resolve) => setImmediate(resolve));
    engine.cancel(1);
    await assert.rejects(cancelled, /cancelled/);
    assert.deepEqual(await kept, keep.target);
  });

  it('counts rows for admission: beams take numBeams rows, the waiting room is bounded', async () => {
    const engine = new Seq2SeqEngine(model, { maxRows: 8, maxWaitingRows: 4 });
    assert.equal(engine.full(12), false);
    assert.equal(engine.full(13), true);
    const running = submit(engine, 1, sentence(0, 30).source, 8);
    assert.equal(engine.full(4), false);
    assert.equal(engine.full(5), true);
    engine.cancel(1);
    await assert.rejects(running, /cancelled/);
  });
});

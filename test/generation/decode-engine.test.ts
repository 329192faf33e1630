/**
 * The decode loop on a generated Qwen2-style export, checked against the plainest decoder (one
 * sequence, no padding, ONNX Runtime directly): continuous batching must not change a single
 * greedy token, whatever joins or leaves the batch around a sequence.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { NamedTensors, Tensor } from '../../src/contracts/tensor.js';
import { DecodeEngine, type DecoderModel, type EngineLimits, type SequenceSink } from '../../src/generation/decode-engine.js';
import { GREEDY_TOKEN, lastPositionGraph, servedOutputs, stepKeyValueName } from '../../src/generation/last-position-graph.js';
import { type DecoderModel as GeneratedModel, writeDecoderModel } from '../support/decoder-model.js';
import { makeTempDir } from '../support/processes.js';
import { argmax, ReferenceDecoder } from '../support/reference-decoder.js';

const ORT_TYPE = { FP32: 'float32', FP16: 'float16', INT64: 'int64' } as const;

/** The decode loop's view of an ONNX Runtime session, as the session worker gives it. */
function sessionModel(session: ort.InferenceSession, generated: GeneratedModel): DecoderModel & { runs: number; fetched: string[][] } {
  const model = {
    runs: 0,
    /** The output names of every run, in order. */
    fetched: [] as string[][],
    layout: { layers: generated.dims.layers, kvHeads: generated.dims.kvHeads, headDim: generated.dims.headDim, datatype: 'FP32' as const },
    positionIds: session.inputNames.includes('position_ids'),
    ...servedOutputs(session.outputNames),
    async run(feeds: NamedTensors, outputs: string[]): Promise<NamedTensors> {
      model.runs += 1;
      model.fetched.push(outputs);
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        inputs[name] = new ort.Tensor(ORT_TYPE[t.datatype as keyof typeof ORT_TYPE], t.data as Float32Array, t.shape);
      }
      const result = await session.run(inputs, outputs);
      const out: NamedTensors = {};
      for (const name of outputs) {
        const t = result[name]!;
        out[name] = { datatype: t.type === 'float16' ? 'FP16' : 'FP32', shape: [...t.dims], data: t.data as Float32Array } as Tensor;
      }
      return out;
    },
  };
  return model;
}

/** Greedy, stops at EOS or after maxTokens; records every token and the logits that chose it. */
class GreedySink implements SequenceSink {
  readonly tokens: number[] = [];
  readonly logits: Float32Array[] = [];
  aborted: Error | undefined;
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly maxTokens: number,
    private readonly eos: readonly number[],
    private readonly onToken?: (sink: GreedySink) => void,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  next(logits: Float32Array | undefined, greedy?: number): { token: number; done: boolean } {
    const token = logits ? argmax(logits) : greedy!;
    this.tokens.push(token);
    if (logits) this.logits.push(logits.slice());
    this.onToken?.(this);
    const done = this.eos.includes(token) || this.tokens.length >= this.maxTokens;
    if (done) this.finish();
    return { token, done };
  }

  abort(reason: Error): void {
    this.aborted = reason;
    this.finish();
  }
}

/** A seeded generator (mulberry32) for prompts and arrival times. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The exported graph (each step's whole `present` fed back) and the graph the decode worker serves
// (last-position logits and each step's own key and value: KvBatch's step-column mode).
for (const form of ['exported', 'served'] as const)
  describe(`DecodeEngine on a generated Qwen2-style export (${form} graph)`, () => {
    let dir: string;
    let generated: GeneratedModel;
    let session: ort.InferenceSession;
    let reference: ReferenceDecoder;
    const limits: EngineLimits = { maxSequences: 16, kvBudgetTokens: 16 * 256, prefillChunkTokens: 512, maxWaiting: 64 };

    before(async () => {
      dir = await makeTempDir('lathe-decode-engine-');
      generated = await writeDecoderModel(join(dir, 'model'), 'tiny', 7);
      const path = join(generated.dir, 'onnx/model.onnx');
      const served = form === 'served' ? await lastPositionGraph(path, join(dir, 'cache')) : path;
      assert.ok(served, 'the rewrite applies to the generated export');
      session = await ort.InferenceSession.create(served, { intraOpNumThreads: 1 });
      assert.equal(session.outputNames.includes(stepKeyValueName(0, 'key')), form === 'served');
      reference = await ReferenceDecoder.load(path, generated.dims);
    });

    after(async () => {
      await session?.release();
      await reference?.release();
      await rm(dir, { recursive: true, force: true });
    });

    const vocab = () => generated.dims.vocab - 3;
    const prompt = (random: () => number, length: number) => Array.from({ length }, () => Math.floor(random() * vocab()));

    it('gives one sequence exactly the reference’s tokens, and logits within 1e-4', async () => {
      const engine = new DecodeEngine(sessionModel(session, generated), limits);
      for (const [seed, length] of [
        [1, 1],
        [2, 9],
        [3, 40],
      ]) {
        const ids = prompt(rng(seed), length);
        const expected = await reference.generate(ids, 12, generated.eosTokenIds);
        const sink = new GreedySink(12, generated.eosTokenIds);
        engine.submit({ id: seed, prompt: ids, maxTokens: 12, sink });
        await sink.done;
        assert.deepEqual(sink.tokens, expected.tokens, `prompt of ${length} tokens`);
        sink.logits.forEach((row, i) => {
          for (let v = 0; v < row.length; v++) assert.ok(Math.abs(row[v] - expected.logits[i][v]) <= 1e-4, `step ${i} logit ${v}`);
        });
      }
      await engine.idle();
      assert.deepEqual([engine.stats().running, engine.stats().kvBytes], [0, 0]);
    });

    it('takes greedy requests’ tokens from the graph’s ArgMax (no logits fetched) when all rows of a step are greedy', async () => {
      const prompts = [5, 17, 30].map((length, i) => prompt(rng(40 + i), length));
      const alone = await Promise.all(prompts.map((p) => reference.generate(p, 10, generated.eosTokenIds)));
      const model = sessionModel(session, generated);
      const engine = new DecodeEngine(model, limits);
      // Three greedy rows, then one greedy and one that reads its logits (a sampler with logprobs, say).
      const greedy = prompts.map(() => new GreedySink(10, generated.eosTokenIds));
      prompts.forEach((p, i) => engine.submit({ id: i, prompt: p, maxTokens: 10, sink: greedy[i]!, greedy: true }));
      await Promise.all(greedy.map((sink) => sink.done));
      await engine.idle();
      const firstRuns = model.fetched.length;
      const mixed = [new GreedySink(10, generated.eosTokenIds), new GreedySink(10, generated.eosTokenIds)];
      engine.submit({ id: 10, prompt: prompts[0]!, maxTokens: 10, sink: mixed[0]!, greedy: true });
      engine.submit({ id: 11, prompt: prompts[1]!, maxTokens: 10, sink: mixed[1]! });
      await Promise.all(mixed.map((sink) => sink.done));
      await engine.idle();

      greedy.forEach((sink, i) => assert.deepEqual(sink.tokens, alone[i]!.tokens, `greedy row ${i}`));
      assert.deepEqual(mixed[0]!.tokens, alone[0]!.tokens);
      assert.deepEqual(mixed[1]!.tokens, alone[1]!.tokens);
      const decode = model.fetched.slice(1, firstRuns); // the first run is the three prompts' prefill
      assert.ok(decode.length > 0);
      assert.ok(alone[0]!.tokens.length > 2 && alone[1]!.tokens.length > 2, 'both mixed rows run more than one step');
      if (form === 'served') {
        assert.ok(
          decode.every((names) => names[0] === GREEDY_TOKEN && !names.includes('logits')),
          'greedy steps fetch no logits',
        );
        assert.equal(model.fetched[firstRuns + 1]![0], 'logits', 'a mixed step fetches the logits');
      } else {
        assert.ok(
          model.fetched.every((names) => names[0] === 'logits'),
          'the exported graph has no ArgMax output',
        );
      }
    });

    it('prefills in chunks when a prompt is longer than prefillChunkTokens, with the same tokens', async () => {
      const ids = prompt(rng(11), 70);
      const expected = await reference.generate(ids, 8, generated.eosTokenIds);
      const model = sessionModel(session, generated);
      const engine = new DecodeEngine(model, { ...limits, prefillChunkTokens: 16 });
      const sink = new GreedySink(8, generated.eosTokenIds);
      engine.submit({ id: 1, prompt: ids, maxTokens: 8, sink });
      await sink.done;
      await engine.idle();
      assert.deepEqual(sink.tokens, expected.tokens);
      // ceil(70 / 16) = 5 prefill passes, then one step per token after the first (unless EOS came early).
      assert.equal(model.runs, 5 + expected.tokens.length - 1);
    });

    it('40 sequences arriving at random times, with mixed prompts and limits, each get the tokens they get alone', async () => {
      const random = rng(2026);
      const requests = Array.from({ length: 40 }, (_, i) => ({
        id: i,
        prompt: prompt(random, 1 + Math.floor(random() * 60)),
        maxTokens: 1 + Math.floor(random() * 24),
        delayMs: Math.floor(random() * 120),
      }));
      const alone: number[][] = [];
      for (const r of requests) alone.push((await reference.generate(r.prompt, r.maxTokens, generated.eosTokenIds)).tokens);

      const engine = new DecodeEngine(sessionModel(session, generated), limits);
      const sinks = requests.map((r) => new GreedySink(r.maxTokens, generated.eosTokenIds));
      await Promise.all(
        requests.map(async (r, i) => {
          await sleep(r.delayMs);
          engine.submit({ id: r.id, prompt: r.prompt, maxTokens: r.maxTokens, sink: sinks[i] });
          await sinks[i].done;
        }),
      );
      await engine.idle();
      requests.forEach((r, i) =>
        assert.deepEqual(sinks[i].tokens, alone[i], `sequence ${r.id} (prompt ${r.prompt.length}, max ${r.maxTokens})`),
      );
      const stats = engine.stats();
      assert.ok(stats.maxBatch > 1, `batches of more than one sequence (max ${stats.maxBatch})`);
      assert.ok(stats.joinedMidBatch > 0, `sequences joined a running batch (${stats.joinedMidBatch})`);
      assert.deepEqual([stats.running, stats.waiting, stats.kvBytes], [0, 0, 0]);
    });

    it('runs at most the sequences its cache budget holds, and the rest wait their turn', async () => {
      // Every sequence may reach 8 + 16 = 24 positions: a budget of 3 × 24 runs three at once.
      const engine = new DecodeEngine(sessionModel(session, generated), { ...limits, kvBudgetTokens: 3 * 24, maxWaiting: 4 });
      const random = rng(5);
      assert.equal(engine.full(8, 16, 7), false, 'three run and four wait');
      assert.equal(engine.full(8, 16, 8), true);
      let most = 0;
      const sinks = Array.from({ length: 7 }, () => new GreedySink(16, [], () => (most = Math.max(most, engine.stats().running))));
      sinks.forEach((sink, i) => engine.submit({ id: i, prompt: prompt(random, 8), maxTokens: 16, sink }));
      assert.equal(engine.full(8, 16), true, 'three running or admitted, four waiting: the room is full');
      assert.equal(engine.full(4, 4), false, 'smaller sequences: sixteen could run at once');
      await Promise.all(sinks.map((s) => s.done));
      await engine.idle();
      assert.equal(most, 3);
      assert.ok(sinks.every((s) => s.tokens.length === 16));
      assert.equal(engine.fits(8, 64), true);
      assert.equal(engine.fits(8, 65), false);
      assert.throws(
        () => engine.submit({ id: 99, prompt: prompt(random, 8), maxTokens: 65, sink: new GreedySink(1, []) }),
        /exceeds the cache budget/,
      );
    });

    it('frees a cancelled sequence before the next step, and the others keep their tokens', async () => {
      const random = rng(9);
      const prompts = [prompt(random, 5), prompt(random, 12), prompt(random, 3)];
      const alone: number[][] = [];
      for (const p of prompts) alone.push((await reference.generate(p, 20, [])).tokens);
      const engine = new DecodeEngine(sessionModel(session, generated), limits);
      let runningAfterCancel: number | undefined;
      let stepsAfterCancel = 0;
      const sinks = prompts.map(
        (_, i) =>
          new GreedySink(20, [], (sink) => {
            if (i === 1 && sink.tokens.length === 4) engine.cancel(1);
            if (i === 0 && sinks[1].aborted) {
              stepsAfterCancel += 1;
              if (stepsAfterCancel === 1) runningAfterCancel = engine.stats().running;
            }
          }),
      );
      prompts.forEach((p, i) => engine.submit({ id: i, prompt: p, maxTokens: 20, sink: sinks[i] }));
      await Promise.all(sinks.map((s) => s.done));
      await engine.idle();
      assert.equal(sinks[1].aborted?.message, 'cancelled');
      assert.equal(sinks[1].tokens.length, 4, 'no token after the cancel');
      assert.deepEqual(sinks[1].tokens, alone[1].slice(0, 4));
      assert.equal(runningAfterCancel, 2, 'the next step ran without it');
      assert.deepEqual(sinks[0].tokens, alone[0]);
      assert.deepEqual(sinks[2].tokens, alone[2]);
    });

    it('fails every sequence, and stays usable, when the model throws', async () => {
      const model = sessionModel(session, generated);
      const engine = new DecodeEngine({ ...model, run: () => Promise.reject(new Error('session lost')) }, limits);
      const sinks = [new GreedySink(4, []), new GreedySink(4, [])];
      sinks.forEach((sink, i) => engine.submit({ id: i, prompt: [1, 2, 3], maxTokens: 4, sink }));
      await Promise.all(sinks.map((s) => s.done));
      assert.deepEqual(
        sinks.map((s) => s.aborted?.message),
        ['session lost', 'session lost'],
      );
      await engine.idle();
      assert.deepEqual([engine.stats().running, engine.stats().waiting], [0, 0]);
    });

    it('ends a sequence at its first token when that token is final, without a decode step', async () => {
      const ids = prompt(rng(3), 6);
      const expected = await reference.generate(ids, 1, []);
      const model = sessionModel(session, generated);
      const engine = new DecodeEngine(model, limits);
      const sink = new GreedySink(1, []);
      engine.submit({ id: 1, prompt: ids, maxTokens: 1, sink });
      await sink.done;
      await engine.idle();
      assert.deepEqual(sink.tokens, expected.tokens);
      assert.equal(model.runs, 1);
      assert.equal(engine.stats().steps, 0);
    });
  });

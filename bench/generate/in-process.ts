/**
 * The in-process references of the generation benchmark, each on the same model folder:
 *   - Transformers.js `generate()` as a Node user writes it: one request at a time, greedy.
 *   - the raw decode limit: one ONNX Runtime session prefilling a batch of prompts together and
 *     then stepping the whole batch back to back (every step feeds `present.*` back as
 *     `past_key_values.*` and the argmax of each row as its next token), nothing else.
 *   - the prefill time of one prompt alone (what time to first token cannot beat).
 * Every session here is opened with the options Lathe's session workers use (`openSession`).
 */
import { AutoModelForCausalLM, env, Tensor as HfTensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import type { NamedTensors, Tensor as EngineTensor } from '../../src/contracts/tensor.js';
import { DecodeEngine, type DecoderModel as EngineModel } from '../../src/generation/decode-engine.js';
import { servedOutputs } from '../../src/generation/last-position-graph.js';
import type { DecoderModel as GeneratedModel } from '../../test/support/decoder-model.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

export interface Throughput {
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

/** The session options of Lathe's session workers (src/runtime/session.worker.ts) for `intraOpThreads`. */
export function sessionOptions(intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
}

/**
 * Greedy generate() of each prompt in turn (after one warm-up run of the first), `maxTokens` new
 * tokens each (no EOS stop: min_new_tokens), on a session with `intraOpThreads` threads.
 */
export async function transformersJs(
  model: GeneratedModel,
  prompts: number[][],
  maxTokens: number,
  intraOpThreads: number,
): Promise<Throughput> {
  const lm = await AutoModelForCausalLM.from_pretrained(model.dir, {
    dtype: 'fp32',
    local_files_only: true,
    session_options: sessionOptions(intraOpThreads),
  });
  try {
    const run = async (prompt: number[]) => {
      const ids = new HfTensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]);
      const mask = new HfTensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
      return (await lm.generate({
        input_ids: ids,
        attention_mask: mask,
        max_new_tokens: maxTokens,
        min_new_tokens: maxTokens,
        do_sample: false,
      } as never)) as HfTensor;
    };
    await run(prompts[0]!);
    const started = performance.now();
    let tokens = 0;
    for (const prompt of prompts) {
      const out = await run(prompt);
      const generated = out.dims[1]! - prompt.length;
      if (generated !== maxTokens) throw new Error(`Transformers.js generated ${generated} tokens, not ${maxTokens}`);
      tokens += generated;
    }
    const seconds = (performance.now() - started) / 1000;
    return { tokens, seconds, tokensPerSecond: tokens / seconds };
  } finally {
    await lm.dispose();
  }
}

/** A session over the folder's model.onnx with the options Lathe's session workers use. */
/** A session on the exported graph, or on another file of the same model (`graphPath`). */
export function openSession(
  model: GeneratedModel,
  intraOpThreads: number,
  graphPath = `${model.dir}/onnx/model.onnx`,
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(graphPath, sessionOptions(intraOpThreads));
}

function emptyPast(model: GeneratedModel, rows: number): Record<string, ort.Tensor> {
  const past: Record<string, ort.Tensor> = {};
  for (let i = 0; i < model.dims.layers; i++)
    for (const part of ['key', 'value'])
      past[`past_key_values.${i}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [
        rows,
        model.dims.kvHeads,
        0,
        model.dims.headDim,
      ]);
  return past;
}

/** Median wall time of prefilling one prompt alone (best case for time to first token). */
export async function prefillSeconds(session: ort.InferenceSession, model: GeneratedModel, prompt: number[], repeats = 5): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const started = performance.now();
    await session.run({
      input_ids: int64(prompt, [1, prompt.length]),
      attention_mask: int64(new Array<number>(prompt.length).fill(1), [1, prompt.length]),
      position_ids: int64(
        prompt.map((_, i) => i),
        [1, prompt.length],
      ),
      ...emptyPast(model, 1),
    });
    if (r > 0) times.push((performance.now() - started) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** Index of the largest of `count` values starting at `offset`. */
function argmax(data: Float32Array, offset: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (data[offset + i]! > data[offset + best]!) best = i;
  return best;
}

export interface DecodeLimit extends Throughput {
  /** CPU time of this process (all threads) per generated token, ms. */
  cpuMsPerToken: number;
  /** Wall time of the prefill pass alone, s. */
  prefillSeconds: number;
}

/**
 * The prompts (all of one length) prefilled together as one batch, then `tokens - 1` decode steps
 * of the whole batch back to back, each row fed the argmax of its last logits: `tokens` new tokens
 * per prompt, the first from the prefill, as a server's request of `max_tokens` = `tokens`. The
 * time includes the prefill, so it is the same work as those requests served together.
 */
export async function rawDecodeLimit(
  session: ort.InferenceSession,
  model: GeneratedModel,
  prompts: number[][],
  tokens: number,
): Promise<DecodeLimit> {
  const rows = prompts.length;
  const promptLength = prompts[0]!.length;
  if (prompts.some((p) => p.length !== promptLength)) throw new RangeError('the raw decode limit takes prompts of one length');
  const vocab = model.dims.vocab;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let out = await session.run({
    input_ids: int64(prompts.flat(), [rows, promptLength]),
    attention_mask: int64(new Array<number>(rows * promptLength).fill(1), [rows, promptLength]),
    position_ids: int64(
      prompts.flat().map((_, i) => i % promptLength),
      [rows, promptLength],
    ),
    ...emptyPast(model, rows),
  });
  const prefilled = performance.now();
  let next = prompts.map((_, r) => argmax(out.logits!.data as Float32Array, (r * promptLength + promptLength - 1) * vocab, vocab));
  let length = promptLength;
  for (let s = 1; s < tokens; s++) {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(next, [rows, 1]),
      attention_mask: int64(new Array<number>(rows * (length + 1)).fill(1), [rows, length + 1]),
      position_ids: int64(new Array<number>(rows).fill(length), [rows, 1]),
    };
    for (const [name, value] of Object.entries(out))
      if (name.startsWith('present.')) feeds[name.replace('present.', 'past_key_values.')] = value;
    out = await session.run(feeds);
    next = next.map((_, r) => argmax(out.logits!.data as Float32Array, r * vocab, vocab));
    length += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const generated = rows * tokens;
  return {
    tokens: generated,
    seconds,
    tokensPerSecond: generated / seconds,
    cpuMsPerToken: (used.user + used.system) / 1000 / generated,
    prefillSeconds: (prefilled - started) / 1000,
  };
}

export interface EngineRun extends Throughput {
  /** Prefill passes and decode steps the engine ran, and the rows over all steps. */
  prefills: number;
  steps: number;
  rows: number;
}

/**
 * Lathe's DecodeEngine (continuous batching over the left-padded cache; in step-column mode and
 * with greedy steps when the session is the graph Lathe's decode worker opens) on this session, without
 * the worker, sampler, detokenizer or HTTP: `callers` loops each submitting `perCaller` sequences
 * back to back (the next as soon as the last finished), greedy argmax, `tokens` tokens each.
 */
export async function engineThroughput(
  session: ort.InferenceSession,
  model: GeneratedModel,
  prompts: number[][],
  tokens: number,
  callers: number,
  perCaller: number,
  maxSequences: number,
): Promise<EngineRun> {
  const decoder: EngineModel = {
    layout: { layers: model.dims.layers, kvHeads: model.dims.kvHeads, headDim: model.dims.headDim, datatype: 'FP32' },
    positionIds: true,
    ...servedOutputs(session.outputNames),
    async run(feeds: NamedTensors, outputs: string[]) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds))
        inputs[name] = new ort.Tensor(t.datatype === 'INT64' ? 'int64' : 'float32', t.data as Float32Array, t.shape);
      const result = await session.run(inputs, outputs);
      const out: NamedTensors = {};
      for (const name of outputs)
        out[name] = { datatype: 'FP32', shape: [...result[name]!.dims], data: result[name]!.data as Float32Array } as EngineTensor;
      return out;
    },
  };
  const engine = new DecodeEngine(decoder, {
    maxSequences,
    kvBudgetTokens: 2 * maxSequences * (prompts[0]!.length + tokens),
    prefillChunkTokens: 512,
    maxWaiting: 64,
  });
  let next = 1;
  const one = (prompt: number[]) =>
    new Promise<number>((resolve, reject) => {
      let n = 0;
      engine.submit({
        id: next++,
        prompt,
        maxTokens: tokens,
        greedy: true,
        sink: {
          next(logits, greedy) {
            n += 1;
            if (n >= tokens) resolve(n);
            return { token: logits ? argmax(logits, 0, logits.length) : greedy!, done: n >= tokens };
          },
          abort: reject,
        },
      });
    });
  const started = performance.now();
  let generated = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      for (let r = 0; r < perCaller; r++) {
        const n = await one(prompts[(c * perCaller + r) % prompts.length]!);
        generated += n;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = engine.stats();
  return {
    tokens: generated,
    seconds,
    tokensPerSecond: generated / seconds,
    prefills: stats.prefills,
    steps: stats.steps,
    rows: stats.rows,
  };
}

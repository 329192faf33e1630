/**
 * The in-process references of the generation benchmark, each on the same model folder:
 *   - Transformers.js `generate()` as a Node user writes it: one request at a time, greedy.
 *   - the raw decode limit: one ONNX Runtime session stepping a full batch back to back (prefill
 *     once, then every step feeds `present.*` back as `past_key_values.*`), nothing else.
 *   - the prefill time of one prompt alone (what time to first token cannot beat).
 */
import { AutoModelForCausalLM, env, Tensor as HfTensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import type { DecoderModel as GeneratedModel } from '../../test/support/decoder-model.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

export interface Throughput {
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

/** Greedy generate() of each prompt in turn, `maxTokens` new tokens each (no EOS stop: min_new_tokens). */
export async function transformersJs(model: GeneratedModel, prompts: number[][], maxTokens: number): Promise<Throughput> {
  const lm = await AutoModelForCausalLM.from_pretrained(model.dir, { dtype: 'fp32', local_files_only: true });
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
      tokens += out.dims[1]! - prompt.length;
    }
    const seconds = (performance.now() - started) / 1000;
    return { tokens, seconds, tokensPerSecond: tokens / seconds };
  } finally {
    await lm.dispose();
  }
}

/** A session over the folder's model.onnx with ONNX Runtime's defaults, as Lathe's workers open it. */
export function openSession(model: GeneratedModel, intraOpThreads?: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(`${model.dir}/onnx/model.onnx`, intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {});
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

/**
 * `rows` sequences of the same prompt length prefilled together, then `steps` decode steps of the
 * whole batch back to back: tokens/s of the decode steps alone (the bound a server's decode loop has).
 */
export async function rawDecodeLimit(
  session: ort.InferenceSession,
  model: GeneratedModel,
  rows: number,
  promptLength: number,
  steps: number,
): Promise<Throughput> {
  const ids = Array.from({ length: rows * promptLength }, (_, i) => (i * 7919) % (model.dims.vocab - 3));
  let out = await session.run({
    input_ids: int64(ids, [rows, promptLength]),
    attention_mask: int64(new Array<number>(rows * promptLength).fill(1), [rows, promptLength]),
    position_ids: int64(
      ids.map((_, i) => i % promptLength),
      [rows, promptLength],
    ),
    ...emptyPast(model, rows),
  });
  let length = promptLength;
  const started = performance.now();
  for (let s = 0; s < steps; s++) {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(new Array<number>(rows).fill(s + 1), [rows, 1]),
      attention_mask: int64(new Array<number>(rows * (length + 1)).fill(1), [rows, length + 1]),
      position_ids: int64(new Array<number>(rows).fill(length), [rows, 1]),
    };
    for (const [name, value] of Object.entries(out))
      if (name.startsWith('present.')) feeds[name.replace('present.', 'past_key_values.')] = value;
    out = await session.run(feeds);
    length += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  return { tokens: rows * steps, seconds, tokensPerSecond: (rows * steps) / seconds };
}

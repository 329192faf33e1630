/**
 * TextGenerator (what a session worker runs for a text-generation model) in one thread, on the
 * generated Qwen2-style export with its real tokenizer: prompts, sampling, stop handling, logprobs
 * and admission, checked against the reference decoder's tokens and logits.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutoTokenizer, env } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { AppError } from '../../src/common/errors/app-error.js';
import type { NamedTensors, Tensor } from '../../src/contracts/tensor.js';
import { NEUTRAL_SAMPLING } from '../../src/generation/sampler.js';
import {
  type GenerateEvent,
  type GenerateRequest,
  type GenerationTokenizer,
  modelConfig,
  TextGenerator,
} from '../../src/generation/text-generator.js';
import { type DecoderModel as GeneratedModel, writeDecoderModel } from '../support/decoder-model.js';
import { makeTempDir } from '../support/processes.js';
import { logSoftmax, ReferenceDecoder } from '../support/reference-decoder.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

const neutral: GenerateRequest['sampling'] = { ...NEUTRAL_SAMPLING, logitBias: undefined };
const greedy = { ...neutral, temperature: 0 };

function request(prompt: GenerateRequest['prompt'], extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { prompt, n: 1, maxTokens: 12, sampling: greedy, stop: [], stopTokenIds: [], ignoreEos: false, ...extra };
}

describe('TextGenerator on a generated Qwen2-style export', () => {
  let dir: string;
  let generated: GeneratedModel;
  let session: ort.InferenceSession;
  let reference: ReferenceDecoder;
  let tokenizer: GenerationTokenizer;
  let generator: TextGenerator;

  const run = async (feeds: NamedTensors, outputs: string[]): Promise<NamedTensors> => {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds))
      inputs[name] = new ort.Tensor(t.datatype === 'INT64' ? 'int64' : 'float32', t.data as Float32Array, t.shape);
    const result = await session.run(inputs, outputs);
    const out: NamedTensors = {};
    for (const name of outputs)
      out[name] = { datatype: 'FP32', shape: [...result[name]!.dims], data: result[name]!.data as Float32Array } as Tensor;
    return out;
  };
  const limits = { maxSequences: 8, kvBudgetBytes: 0, prefillChunkTokens: 256, maxWaiting: 4, retryAfterSeconds: 1 };

  before(async () => {
    dir = await makeTempDir('lathe-text-generator-');
    generated = await writeDecoderModel(join(dir, 'model'), 'tiny', 3);
    session = await ort.InferenceSession.create(join(generated.dir, 'onnx/model.onnx'), { intraOpNumThreads: 1 });
    reference = await ReferenceDecoder.load(join(generated.dir, 'onnx/model.onnx'), generated.dims);
    tokenizer = (await AutoTokenizer.from_pretrained(generated.dir)) as unknown as GenerationTokenizer;
    const config = JSON.parse(await readFile(join(generated.dir, 'config.json'), 'utf8'));
    const generation = JSON.parse(await readFile(join(generated.dir, 'generation_config.json'), 'utf8'));
    const model = modelConfig(config, generation, 'FP32');
    // A budget of 8 sequences of the whole context.
    generator = new TextGenerator(tokenizer, model, run, { ...limits, kvBudgetBytes: 8 * model.contextLength * 2 * 2 * 2 * 16 * 4 });
  });

  after(async () => {
    await session?.release();
    await reference?.release();
    await rm(dir, { recursive: true, force: true });
  });

  async function collect(id: number, req: GenerateRequest) {
    const events: GenerateEvent[] = [];
    const result = await generator.generate(id, req, (e) => events.push(e));
    const texts = Array.from({ length: req.n }, (_, c) =>
      events
        .filter((e) => e.type === 'delta' && e.choice === c)
        .map((e) => (e as { text: string }).text)
        .join(''),
    );
    return { events, result, texts };
  }

  it('reads the model’s layout, context and end-of-sequence ids from its config files', async () => {
    const config = JSON.parse(await readFile(join(generated.dir, 'config.json'), 'utf8'));
    const model = modelConfig(config, { eos_token_id: [5, 6] }, 'FP16');
    assert.deepEqual(model, {
      layout: { layers: 2, kvHeads: 2, headDim: 16, datatype: 'FP16' },
      positionIds: true,
      vocabSize: 512,
      contextLength: 256,
      eosTokenIds: [5, 6],
      samplingDefaults: {},
    });
    // generation_config.json's sampling defaults, where they are valid (min_p 2 is not).
    const sampled = modelConfig(config, { temperature: 0.7, top_p: 0.8, top_k: 20, min_p: 2, repetition_penalty: 1.05 }, 'FP32');
    assert.deepEqual(sampled.samplingDefaults, { temperature: 0.7, topP: 0.8, topK: 20, repetitionPenalty: 1.05 });
    assert.throws(() => modelConfig({ ...config, num_hidden_layers: 0 }, {}, 'FP32'), /num_hidden_layers must be a positive integer/);
  });

  it('greedy text from a text prompt equals the reference decoder, token by token, with the text of those tokens', async () => {
    const prompt = 'the quick brown fox';
    const ids = tokenizer.encode(prompt, { add_special_tokens: true });
    const expected = await reference.generate(ids, 12, generated.eosTokenIds);
    const { events, result, texts } = await collect(
      1,
      request({ kind: 'text', text: prompt }, { sampling: { ...greedy, logprobs: true, topLogprobs: 3 } }),
    );
    assert.deepEqual(events[0], { type: 'accepted', promptTokens: ids.length, maxTokens: 12 });
    const reports = events.flatMap((e) => (e.type === 'delta' ? (e.logprobs ?? []) : []));
    assert.deepEqual(
      reports.map((r) => r.id),
      expected.tokens,
    );
    const stopped = generated.eosTokenIds.includes(expected.tokens.at(-1)!);
    const shown = stopped ? expected.tokens.slice(0, -1) : expected.tokens;
    assert.equal(texts[0], tokenizer.decode(shown, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
    assert.deepEqual(result, {
      promptTokens: ids.length,
      completionTokens: expected.tokens.length,
      choices: [{ finishReason: stopped ? 'stop' : 'length', ...(stopped ? { stopReason: expected.tokens.at(-1) } : {}) }],
    });
    // Logprobs are the log-softmax of the model's logits at each step (within 1e-4), the top 3 in order.
    reports.forEach((r, i) => {
      const lsm = logSoftmax(expected.logits[i]!);
      assert.ok(Math.abs(r.logprob - lsm[r.id]!) < 1e-4, `step ${i}`);
      const order = Array.from(lsm.keys())
        .sort((a, b) => lsm[b]! - lsm[a]! || a - b)
        .slice(0, 3);
      assert.deepEqual(
        r.top.map((t) => t.id),
        order,
      );
      r.top.forEach((t) => assert.ok(Math.abs(t.logprob - lsm[t.id]!) < 1e-4));
      assert.equal(r.text, tokenizer.decode([r.id], { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
    });
  });

  it('renders a chat with the model’s template and generates from it', async () => {
    const messages = [
      { role: 'system' as const, content: 'be brief' },
      { role: 'user' as const, content: 'hello there' },
    ];
    const rendered = tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) as string;
    const ids = tokenizer.encode(rendered, { add_special_tokens: false });
    const expected = await reference.generate(ids, 12, generated.eosTokenIds);
    const { events } = await collect(2, request({ kind: 'chat', messages }));
    assert.deepEqual(events[0], { type: 'accepted', promptTokens: ids.length, maxTokens: 12 });
    assert.equal(events.filter((e) => e.type === 'delta').length, expected.tokens.length);
  });

  it('the same seed samples the same tokens; other seeds and choices differ', async () => {
    const sampling = { ...neutral, temperature: 1.5, topP: 0.95 };
    const ask = (seed: number, n = 1) =>
      collect(10 + seed, request({ kind: 'tokens', ids: [5, 9, 13] }, { sampling, seed, n, maxTokens: 16, ignoreEos: true }));
    const a = await ask(42);
    const b = await ask(42);
    const c = await ask(43);
    assert.equal(a.texts[0], b.texts[0]);
    assert.notEqual(a.texts[0], c.texts[0]);
    const two = await ask(42, 2);
    assert.equal(two.texts[0], a.texts[0], 'choice 0 uses the seed itself');
    assert.equal(two.texts[1], c.texts[0], 'choice 1 uses seed + 1');
    assert.equal(two.result.completionTokens, 32);
  });

  it("takes generation_config.json's sampling defaults for the fields a request leaves unset, and only those", async () => {
    const config = JSON.parse(await readFile(join(generated.dir, 'config.json'), 'utf8'));
    // A model whose generation_config says temperature 0: unset, the request decodes greedily.
    const model = { ...modelConfig(config, { temperature: 0 }, 'FP32'), eosTokenIds: [] };
    const greedyByDefault = new TextGenerator(tokenizer, model, run, {
      ...limits,
      kvBudgetBytes: 8 * model.contextLength * 2 * 2 * 2 * 16 * 4,
    });
    const prompt = [5, 9, 13];
    const expected = (await reference.generate(prompt, 16)).tokens;
    const tokensOf = async (g: TextGenerator, id: number, req: GenerateRequest) => {
      const ids: number[] = [];
      await g.generate(id, req, (e) => {
        if (e.type === 'delta') ids.push(...(e.logprobs ?? []).map((l) => l.id));
      });
      return ids;
    };
    const sampling = { ...neutral, temperature: 1, logprobs: true };
    const base = request({ kind: 'tokens', ids: prompt }, { sampling, seed: 42, maxTokens: 16, ignoreEos: true });
    assert.deepEqual(await tokensOf(greedyByDefault, 90, { ...base, unset: ['temperature'] }), expected);
    // Set by the request (here temperature 1, seeded), the model's default does not apply.
    const sampled = await tokensOf(greedyByDefault, 91, base);
    assert.deepEqual(sampled, await tokensOf(generator, 92, base));
    assert.notDeepEqual(sampled, expected);
  });

  it('ends the text before a stop string and reports it', async () => {
    const free = await collect(20, request({ kind: 'tokens', ids: [7, 8, 9] }, { maxTokens: 24, ignoreEos: true }));
    const text = free.texts[0]!;
    assert.ok(text.length >= 6, `needs some text to cut: ${JSON.stringify(text)}`);
    const stop = text.slice(3, 6);
    const cut = await collect(21, request({ kind: 'tokens', ids: [7, 8, 9] }, { maxTokens: 24, ignoreEos: true, stop: [stop] }));
    assert.equal(cut.texts[0], text.slice(0, text.indexOf(stop)));
    assert.deepEqual(cut.result.choices, [{ finishReason: 'stop', stopReason: stop }]);
  });

  it('refuses what cannot run with a code: a prompt over the context, out-of-vocabulary ids, too many choices', async () => {
    const long = Array.from({ length: 250 }, (_, i) => i % 400);
    await assert.rejects(
      generator.generate(30, request({ kind: 'tokens', ids: long }, { maxTokens: 10 }), () => {}),
      (e: AppError) =>
        e.code === 'CONTEXT_LENGTH_EXCEEDED' && /context is 256 tokens, but 250 prompt tokens plus max_tokens 10/.test(e.message),
    );
    const truncated = await collect(
      31,
      request({ kind: 'tokens', ids: long }, { maxTokens: 10, truncatePromptTokens: 200, ignoreEos: true }),
    );
    assert.deepEqual(truncated.events[0], { type: 'accepted', promptTokens: 200, maxTokens: 10 });
    await assert.rejects(
      generator.generate(32, request({ kind: 'tokens', ids: [1, 512] }), () => {}),
      (e: AppError) => e.code === 'VALIDATION_FAILED' && /token id 512 is outside the vocabulary/.test(e.message),
    );
    await assert.rejects(
      generator.generate(33, request({ kind: 'tokens', ids: [1] }, { n: 13 }), () => {}),
      (e: AppError) => e.code === 'VALIDATION_FAILED' && /n = 13 choices/.test(e.message),
    );
  });

  it('answers OVERLOADED with Retry-After when the running and waiting sequences fill the engine', async () => {
    const ids = [3, 4, 5];
    const runs = Array.from({ length: 12 }, (_, i) =>
      generator.generate(40 + i, request({ kind: 'tokens', ids }, { maxTokens: 30, ignoreEos: true }), () => {}),
    );
    await assert.rejects(
      generator.generate(60, request({ kind: 'tokens', ids }, { maxTokens: 30 }), () => {}),
      (e: AppError) => {
        assert.equal(e.code, 'OVERLOADED');
        assert.deepEqual(e.headers, { 'Retry-After': '1' });
        return true;
      },
    );
    const results = await Promise.all(runs);
    assert.ok(results.every((r) => r.completionTokens === 30));
  });

  it('cancel ends a request’s choices with a rejection', async () => {
    let deltas = 0;
    const running = generator.generate(70, request({ kind: 'tokens', ids: [1, 2] }, { n: 2, maxTokens: 100, ignoreEos: true }), (e) => {
      if (e.type === 'delta' && ++deltas === 6) generator.cancel(70);
    });
    await assert.rejects(running, /cancelled/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(generator.stats().running, 0);
  });
});

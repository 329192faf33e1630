/**
 * Text generation over HTTP on a generated Qwen2-style export in the onnx-community layout:
 * Transformers.js generate() on the same folder is the independent reference for the tokens, the
 * ONNX Runtime reference loop for the logits; the official openai client drives the OpenAI routes.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  Tensor as HfTensor,
} from '@huggingface/transformers';
import OpenAI from 'openai';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type DecoderModel, decoderManifest, writeDecoderModel } from '../support/decoder-model.js';
import { writeManifest } from '../support/models.js';
import { makeTempDir } from '../support/processes.js';
import { metricValue } from '../support/prometheus.js';
import { logSoftmax, ReferenceDecoder } from '../support/reference-decoder.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

/** Logprobs must match the reference's log-softmax within this. */
const TOLERANCE = 1e-4;

/** Parses a text/event-stream body into its `data:` payloads. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

const PROMPTS = [
  'a',
  'the cat',
  'once upon a time',
  'hello world, this is a test',
  'numbers: 1 2 3 4 5 6',
  'the quick brown fox jumps over the lazy dog',
  'Zürich and München are cities',
  'models serve text over http',
  'why is the sky blue?',
  'lorem ipsum dolor sit amet, consectetur adipiscing elit',
  'x',
  'to be or not to be, that is the question',
  'a b c d e f g h i j k l m n o p',
  'emoji 🙂 and symbols € ©',
  'server',
  'the engine batches sequences step by step and every one of them must get the same tokens it would get alone',
  'ok',
  'generation',
  'one two three',
  'the last prompt of twenty',
];

describe('text generation routes on a generated decoder', () => {
  let root: string;
  let model: DecoderModel;
  let t: TestApp;
  let base: string;
  let tokenizer: PreTrainedTokenizer;
  let lm: PreTrainedModel;
  let reference: ReferenceDecoder;

  before(async () => {
    root = await makeTempDir('lathe-generation-');
    model = await writeDecoderModel(join(root, 'tiny-chat-hf'), 'tiny', 5);
    const models = join(root, 'models');
    await writeManifest(models, 'tiny-chat', decoderManifest(model));
    await writeManifest(models, 'tiny-chat-small', decoderManifest(model, { maxSequences: 2, queue: 1 }));
    // The same model, with a generation_config.json that asks for greedy decoding by default.
    const greedyDir = join(root, 'tiny-chat-greedy-hf');
    await cp(model.dir, greedyDir, { recursive: true });
    const generation = JSON.parse(await readFile(join(greedyDir, 'generation_config.json'), 'utf8')) as object;
    await writeFile(join(greedyDir, 'generation_config.json'), JSON.stringify({ ...generation, temperature: 0, top_k: 5 }));
    await writeManifest(models, 'tiny-chat-greedy', decoderManifest({ ...model, dir: greedyDir }));
    t = await startTestApp({ LATHE_MODELS_DIR: models });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    tokenizer = await AutoTokenizer.from_pretrained(model.dir);
    lm = await AutoModelForCausalLM.from_pretrained(model.dir, { dtype: 'fp32', local_files_only: true });
    reference = await ReferenceDecoder.load(join(model.dir, 'onnx/model.onnx'), model.dims);
  });

  after(async () => {
    await lm?.dispose();
    await reference?.release();
    await t?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Transformers.js greedy generate(): the new token ids (EOS included when it ended the text). */
  async function transformersJs(prompt: string, maxNewTokens: number): Promise<number[]> {
    const ids = tokenizer.encode(prompt);
    const input = new HfTensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const mask = new HfTensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const out = (await lm.generate({
      input_ids: input,
      attention_mask: mask,
      max_new_tokens: maxNewTokens,
      do_sample: false,
    } as never)) as HfTensor;
    return Array.from(out.data as BigInt64Array, Number).slice(ids.length);
  }

  it('greedy /v1/completions equals Transformers.js generate() token for token on 20 prompts, logprobs within 1e-4', async () => {
    for (const prompt of PROMPTS) {
      const expected = await transformersJs(prompt, 10);
      const res = await request(t.server)
        .post('/v1/completions')
        .send({ model: 'tiny-chat', prompt, max_tokens: 10, temperature: 0, logprobs: 5 })
        .expect(200);
      const choice = res.body.choices[0];
      const ended = model.eosTokenIds.includes(expected.at(-1)!);
      const shown = ended ? expected.slice(0, -1) : expected;
      assert.equal(choice.text, tokenizer.decode(shown, { skip_special_tokens: true }), prompt);
      assert.equal(choice.finish_reason, ended ? 'stop' : 'length');
      const promptIds = tokenizer.encode(prompt);
      assert.deepEqual(res.body.usage, {
        prompt_tokens: promptIds.length,
        completion_tokens: expected.length,
        total_tokens: promptIds.length + expected.length,
      });
      // Token for token: each reported token is the text of the id Transformers.js chose.
      assert.deepEqual(
        choice.logprobs.tokens,
        expected.map((id) => tokenizer.decode([id], { skip_special_tokens: false })),
      );
      const steps = (await reference.generate(promptIds, 10, model.eosTokenIds)).logits;
      choice.logprobs.token_logprobs.forEach((lp: number, i: number) => {
        const lsm = logSoftmax(steps[i]!);
        assert.ok(Math.abs(lp - lsm[expected[i]!]!) <= TOLERANCE, `${prompt}: step ${i}`);
        // The five alternatives (a map by token text: two ids that read the same share one key).
        const best = Array.from(lsm.keys())
          .sort((a, b) => lsm[b]! - lsm[a]! || a - b)
          .slice(0, 5);
        for (const [text, value] of Object.entries(choice.logprobs.top_logprobs[i] as Record<string, number>)) {
          const id = best.find(
            (b) => tokenizer.decode([b], { skip_special_tokens: false }) === text && Math.abs(lsm[b]! - value) <= TOLERANCE,
          );
          assert.ok(id !== undefined, `${prompt}: step ${i} alternative ${JSON.stringify(text)} ${value}`);
        }
      });
    }
  });

  it('greedy without logprobs (decode steps take the graph’s ArgMax), 20 prompts at once, equals Transformers.js generate() token for token', async () => {
    const expected: number[][] = [];
    for (const prompt of PROMPTS) expected.push(await transformersJs(prompt, 10));
    const counters = async () => {
      const text = (await request(t.server).get('/metrics').expect(200)).text;
      return ['rows', 'steps'].map((what) => metricValue(text, `lathe_generation_decode_${what}_total`, 'tiny-chat'));
    };
    const [rowsBefore, stepsBefore] = await counters();
    // All at once: they share decode steps, every row greedy, so no step fetches logits.
    const answers = await Promise.all(
      PROMPTS.map((prompt) =>
        request(t.server).post('/v1/completions').send({ model: 'tiny-chat', prompt, max_tokens: 10, temperature: 0 }),
      ),
    );
    answers.forEach((res, i) => {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const ended = model.eosTokenIds.includes(expected[i]!.at(-1)!);
      const shown = ended ? expected[i]!.slice(0, -1) : expected[i]!;
      assert.equal(res.body.choices[0].text, tokenizer.decode(shown, { skip_special_tokens: true }), PROMPTS[i]);
      assert.equal(res.body.choices[0].finish_reason, ended ? 'stop' : 'length');
      assert.equal(res.body.usage.completion_tokens, expected[i]!.length);
    });
    const [rowsAfter, stepsAfter] = await counters();
    const rows = rowsAfter! - rowsBefore!;
    const steps = stepsAfter! - stepsBefore!;
    assert.ok(steps > 0 && rows > steps, `decode steps ran more than one row (${rows} rows in ${steps} steps)`);
  });

  it('the openai client: chat with and without streaming gives the same text, seeds reproduce, stops and limits end it', async () => {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [
      { role: 'system' as const, content: 'be brief' },
      { role: 'user' as const, content: 'tell me about the fox' },
    ];
    const whole = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 20, temperature: 0 });
    assert.equal(whole.object, 'chat.completion');
    assert.equal(whole.choices[0]!.message.role, 'assistant');
    const text = whole.choices[0]!.message.content!;
    const rendered = tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) as string;
    const promptIds = tokenizer.encode(rendered, { add_special_tokens: false });
    const expected = (await reference.generate(promptIds, 20, model.eosTokenIds)).tokens;
    const ended = model.eosTokenIds.includes(expected.at(-1)!);
    assert.equal(text, tokenizer.decode(ended ? expected.slice(0, -1) : expected, { skip_special_tokens: true }));
    assert.deepEqual(whole.usage, {
      prompt_tokens: promptIds.length,
      completion_tokens: expected.length,
      total_tokens: promptIds.length + expected.length,
    });

    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 20,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = '';
    let finish: string | null = null;
    let usage: unknown;
    let roles = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id.startsWith('chatcmpl-'), true);
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.delta.role) roles += 1;
        streamed += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(streamed, text);
    assert.equal(roles, 1);
    assert.equal(finish, whole.choices[0]!.finish_reason);
    assert.deepEqual(usage, whole.usage);

    // Seeds: the same seed samples the same text; another seed differs somewhere among three tries.
    const sample = (seed: number) =>
      client.chat.completions
        .create({ model: 'tiny-chat', messages, max_tokens: 24, temperature: 1.3, seed })
        .then((r) => r.choices[0]!.message.content);
    const a = await sample(7);
    assert.equal(await sample(7), a);
    const others = await Promise.all([sample(8), sample(9), sample(10)]);
    assert.ok(others.some((o) => o !== a));

    // max_tokens ends with "length" and exactly that many tokens.
    const short = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 3, temperature: 1, seed: 1 });
    assert.equal(short.choices[0]!.finish_reason, 'length');
    assert.equal(short.usage!.completion_tokens, 3);

    // A stop string: the text ends right before it.
    const free = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 24, temperature: 0.9, seed: 3 });
    const full = free.choices[0]!.message.content!;
    assert.ok(full.length > 6, `needs text to cut: ${JSON.stringify(full)}`);
    const stop = full.slice(4, 7);
    const cut = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 24,
      temperature: 0.9,
      seed: 3,
      stop: [stop],
    });
    assert.equal(cut.choices[0]!.message.content, full.slice(0, full.indexOf(stop)));
    assert.equal(cut.choices[0]!.finish_reason, 'stop');

    // logprobs: the chosen token's log-probability under the model, within 1e-4 of the reference's log-softmax.
    const withLogprobs = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const steps = (await reference.generate(promptIds, 6, model.eosTokenIds)).logits;
    withLogprobs.choices[0]!.logprobs!.content!.forEach((entry, i) => {
      const lsm = logSoftmax(steps[i]!);
      assert.ok(Math.abs(entry.logprob - lsm[expected[i]!]!) <= TOLERANCE, `step ${i}`);
      assert.equal(entry.top_logprobs.length, 2);
      assert.deepEqual(entry.bytes, Array.from(Buffer.from(entry.token, 'utf8')).length ? entry.bytes : []);
    });
  });

  it('/v1/completions streams the same text as its whole answer; n choices and a list of prompts are numbered p·n + i', async () => {
    const body = { model: 'tiny-chat', prompt: ['the cat', 'a dog'], max_tokens: 8, temperature: 0.8, seed: 11, n: 2 };
    const whole = await request(t.server).post('/v1/completions').send(body).expect(200);
    assert.deepEqual(
      whole.body.choices.map((c: { index: number }) => c.index),
      [0, 1, 2, 3],
    );
    const res = await request(t.server)
      .post('/v1/completions')
      .send({ ...body, stream: true })
      .expect(200)
      .expect('content-type', /text\/event-stream/);
    const events = sseData(res.text);
    assert.equal(events.at(-1), '[DONE]');
    const texts = ['', '', '', ''];
    for (const e of events.slice(0, -1)) {
      const chunk = JSON.parse(e);
      assert.equal(chunk.object, 'text_completion');
      for (const c of chunk.choices) texts[c.index] += c.text;
    }
    assert.deepEqual(
      texts,
      whole.body.choices.map((c: { text: string }) => c.text),
    );
  });

  it("applies the model's generation_config.json sampling defaults to what a request leaves unset, over HTTP", async () => {
    const complete = async (body: object) =>
      (
        await request(t.server)
          .post('/v1/completions')
          .send({ prompt: 'the cat', max_tokens: 8, ignore_eos: true, ...body })
          .expect(200)
      ).body.choices[0].text as string;
    const greedy = await complete({ model: 'tiny-chat', temperature: 0 });
    // No temperature and no seed: the model's temperature 0 makes every answer the greedy one.
    assert.equal(await complete({ model: 'tiny-chat-greedy' }), greedy);
    assert.equal(await complete({ model: 'tiny-chat-greedy', temperature: null }), greedy);
    // A temperature set in the request wins; top_k 5 from the model still applies, as when the request sets it.
    const sampled = await complete({ model: 'tiny-chat-greedy', temperature: 1.5, seed: 3 });
    assert.equal(sampled, await complete({ model: 'tiny-chat', temperature: 1.5, seed: 3, top_k: 5 }));
    assert.notEqual(sampled, greedy);
  });

  it('GET /v1/models lists the model with its task', async () => {
    const res = await request(t.server).get('/v1/models/tiny-chat').expect(200);
    assert.deepEqual([res.body.id, res.body.object, res.body.task, res.body.state], ['tiny-chat', 'model', 'text-generation', 'READY']);
  });

  it("Triton's generate and generate_stream answer text_output", async () => {
    const whole = await request(t.server)
      .post('/v2/models/tiny-chat/generate')
      .send({ id: 'r1', text_input: 'once upon a time', parameters: { max_tokens: 8, temperature: 0 } })
      .expect(200);
    const completion = await request(t.server)
      .post('/v1/completions')
      .send({ model: 'tiny-chat', prompt: 'once upon a time', max_tokens: 8, temperature: 0 })
      .expect(200);
    assert.deepEqual(whole.body, { id: 'r1', model_name: 'tiny-chat', model_version: '1', text_output: completion.body.choices[0].text });
    const stream = await request(t.server)
      .post('/v2/models/tiny-chat/versions/1/generate_stream')
      .send({ text_input: 'once upon a time', max_tokens: 8, temperature: 0 })
      .expect(200);
    const parts = sseData(stream.text).map((e) => JSON.parse(e));
    assert.ok(parts.length > 1);
    assert.ok(parts.every((p) => p.model_name === 'tiny-chat' && p.model_version === '1'));
    assert.equal(parts.map((p) => p.text_output).join(''), whole.body.text_output);
  });
});

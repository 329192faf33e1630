/**
 * The generated decoder loads in Transformers.js like an `onnx-community/*` download, and its
 * `generate()` (greedy, alone and as a left-padded batch) gives exactly the token ids of the ONNX
 * Runtime reference loop, with every step's logits within 1e-4. The graph itself matches a
 * plain-TypeScript Qwen2 forward pass within 1e-4, and the tokenizer and chat template behave as
 * Qwen2's do.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  LogitsProcessor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor as HfTensor,
} from '@huggingface/transformers';
import onnxProto from 'onnx-proto';
import { CHAT_TEMPLATE } from './bpe-tokenizer.js';
import { decoderLogits } from './decoder-math.js';
import { cachedDecoderModel, type DecoderModel, DECODER_DIMS, decoderWeights, writeDecoderModel } from './decoder-model.js';
import { maxAbsDiff } from './models.js';
import { makeTempDir } from './processes.js';
import { argmax, type ReferenceGeneration, ReferenceDecoder } from './reference-decoder.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;

const SEED = 1;
const TOLERANCE = 1e-4;
const MAX_NEW_TOKENS = 12;
const PROMPTS = [
  'Hi',
  'Hello, world!',
  'Once upon a time there was a small robot that lived by the sea.',
  'Explain why the sky is blue. '.repeat(6) + 'Café, 東京 and 🙂 too.',
];

let root: string;
let model: DecoderModel;
let tokenizer: PreTrainedTokenizer;
let lm: PreTrainedModel;
let reference: ReferenceDecoder;
const expected = new Map<string, ReferenceGeneration>();

before(async () => {
  root = await makeTempDir('lathe-decoder-model-');
  model = await writeDecoderModel(join(root, 'tiny'), 'tiny', SEED);
  tokenizer = await AutoTokenizer.from_pretrained(model.dir);
  lm = await AutoModelForCausalLM.from_pretrained(model.dir, { dtype: 'fp32', local_files_only: true });
  const { layers, kvHeads, headDim } = model.dims;
  reference = await ReferenceDecoder.load(join(model.dir, 'onnx/model.onnx'), { layers, kvHeads, headDim });
  for (const text of PROMPTS) expected.set(text, await reference.generate(tokenizer.encode(text), MAX_NEW_TOKENS, model.eosTokenIds));
});
after(async () => {
  await reference?.release();
  await lm?.dispose();
  await rm(root, { recursive: true, force: true });
});

/** The list type is not exported; `generate()` extends its own list with any array of processors. */
type GenerateOptions = Parameters<PreTrainedModel['generate']>[0];

/** Keeps a copy of every row's scores at every step; changes nothing. */
class RecordLogits extends LogitsProcessor {
  readonly steps: Float32Array[][] = [];
  override _call(_inputIds: bigint[][], logits: HfTensor): HfTensor {
    const [rows, vocab] = logits.dims as [number, number];
    const data = logits.data as Float32Array;
    this.steps.push(Array.from({ length: rows }, (_, r) => data.slice(r * vocab, (r + 1) * vocab)));
    return logits;
  }
}

/** Greedy generate() on a batch of texts (left-padded); per row, the new ids and the logits that chose them. */
async function hfGenerate(texts: string[]): Promise<ReferenceGeneration[]> {
  tokenizer.padding_side = 'left';
  const inputs = tokenizer(texts, { padding: true }) as unknown as { input_ids: HfTensor; attention_mask: HfTensor };
  const recorder = new RecordLogits();
  const output = (await lm.generate({
    ...inputs,
    max_new_tokens: MAX_NEW_TOKENS,
    do_sample: false,
    logits_processor: [recorder] as unknown as GenerateOptions['logits_processor'],
  })) as HfTensor;
  const promptLength = inputs.input_ids.dims[1]!;
  return (output.tolist() as bigint[][]).map((row, r) => ({
    tokens: row.slice(promptLength).map(Number),
    logits: recorder.steps.map((step) => step[r]!),
  }));
}

/** Same ids up to the reference's end, and each step's logits within the tolerance. */
function assertSameGeneration(actual: ReferenceGeneration, ref: ReferenceGeneration, label: string): void {
  assert.deepEqual(actual.tokens.slice(0, ref.tokens.length), ref.tokens, label);
  ref.logits.forEach((logits, step) => {
    const diff = maxAbsDiff(actual.logits[step]!, logits);
    assert.ok(diff <= TOLERANCE, `${label}, step ${step}: logits differ by ${diff}`);
  });
}

describe('decoder model: folder layout', () => {
  it('writes the onnx-community layout with a Qwen2 config', async () => {
    assert.deepEqual((await readdir(model.dir)).sort(), [
      'config.json',
      'generation_config.json',
      'onnx',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.deepEqual(await readdir(join(model.dir, 'onnx')), ['model.onnx']);
    const config = JSON.parse(await readFile(join(model.dir, 'config.json'), 'utf8'));
    assert.deepEqual(
      [config.model_type, config.architectures, config.vocab_size, config.hidden_size, config.num_hidden_layers],
      ['qwen2', ['Qwen2ForCausalLM'], 512, 64, 2],
    );
    assert.deepEqual([config.num_attention_heads, config.num_key_value_heads, config.head_dim], [4, 2, 16]);
    assert.deepEqual([config.eos_token_id, config.bos_token_id, config.max_position_embeddings], [511, 509, 256]);
    const generation = JSON.parse(await readFile(join(model.dir, 'generation_config.json'), 'utf8'));
    assert.deepEqual(generation.eos_token_id, [511, 509]);
    assert.deepEqual(model.eosTokenIds, [511, 509]);
  });

  it('declares the Optimum with-past signature with its symbolic dimensions', async () => {
    const proto = onnxProto.onnx.ModelProto.decode(await readFile(join(model.dir, 'onnx/model.onnx')));
    const signature = (values: onnxProto.onnx.IValueInfoProto[]) =>
      values.map((v) => `${v.name} [${v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || String(d.dimValue)).join(', ')}]`);
    const cache = (prefix: string, length: string) =>
      [0, 1].flatMap((i) => ['key', 'value'].map((kind) => `${prefix}.${i}.${kind} [batch_size, 2, ${length}, 16]`));
    assert.deepEqual(signature(proto.graph!.input!), [
      'input_ids [batch_size, sequence_length]',
      'attention_mask [batch_size, past_sequence_length + sequence_length]',
      'position_ids [batch_size, sequence_length]',
      ...cache('past_key_values', 'past_sequence_length'),
    ]);
    assert.deepEqual(signature(proto.graph!.output!), [
      'logits [batch_size, sequence_length, 512]',
      ...cache('present', 'past_sequence_length + sequence_length'),
    ]);
  });

  it('is the same bytes for the same seed and different weights for another', async () => {
    const bytes = (dir: string) => readFile(join(dir, 'onnx/model.onnx'));
    const [same, other] = await Promise.all([
      writeDecoderModel(join(root, 'same'), 'tiny', SEED),
      writeDecoderModel(join(root, 'other'), 'tiny', SEED + 1),
    ]);
    assert.deepEqual(await bytes(same.dir), await bytes(model.dir));
    assert.notDeepEqual(await bytes(other.dir), await bytes(model.dir));
  });

  it('builds a cached model once and reuses it', async () => {
    const cache = join(root, 'cache');
    const first = await cachedDecoderModel(cache, 'tiny', SEED);
    const written = (await stat(join(first.dir, 'onnx/model.onnx'))).mtimeMs;
    const again = await cachedDecoderModel(cache, 'tiny', SEED);
    assert.equal(again.dir, first.dir);
    assert.equal((await stat(join(again.dir, 'onnx/model.onnx'))).mtimeMs, written);
    assert.deepEqual(await readFile(join(again.dir, 'onnx/model.onnx')), await readFile(join(model.dir, 'onnx/model.onnx')));
    assert.deepEqual(await readdir(cache), ['decoder-tiny-seed1-v2']);
  });
});

describe('decoder model: tokenizer and chat template', () => {
  it('round-trips text through byte-level BPE, merges included', () => {
    assert.equal(tokenizer.constructor.name, 'Qwen2Tokenizer');
    for (const text of [...PROMPTS, ' leading space,\ttabs\nand lines', 'ß€ 𝔘 naïve']) {
      const ids = tokenizer.encode(text);
      assert.equal(tokenizer.decode(ids), text);
      assert.ok(ids.every((id) => id < 509));
    }
    // Learnt merges: a common word is one token, fewer tokens than its bytes.
    assert.deepEqual(tokenizer.tokenize(' the'), ['Ġthe']);
    assert.deepEqual(tokenizer.tokenize('Hello, world!'), ['H', 'el', 'lo', ',', 'Ġworld', '!']);
  });

  it('keeps the special tokens whole and skips them on request', () => {
    const ids = tokenizer.encode('<|im_start|>user\nHi<|im_end|><|endoftext|>');
    assert.deepEqual([ids[0], ids.at(-2), ids.at(-1)], [510, 511, 509]);
    assert.equal(tokenizer.decode(ids, { skip_special_tokens: true }), 'user\nHi');
  });

  it('renders the ChatML template exactly', () => {
    assert.equal(tokenizer.chat_template, CHAT_TEMPLATE);
    const conversation = [
      { role: 'user', content: 'What is 2 + 2?' },
      { role: 'assistant', content: 'It is 4.' },
    ];
    assert.equal(
      tokenizer.apply_chat_template(conversation, { tokenize: false }),
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n' +
        '<|im_start|>assistant\nIt is 4.<|im_end|>\n',
    );
    const prompt = [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Hello!' },
    ];
    const text = '<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n';
    assert.equal(tokenizer.apply_chat_template(prompt, { tokenize: false, add_generation_prompt: true }), text);
    const ids = tokenizer.apply_chat_template(prompt, { add_generation_prompt: true, return_tensor: false, return_dict: false });
    assert.deepEqual(ids, tokenizer.encode(text));
    const count = (id: number) => ids.filter((x) => x === id).length;
    assert.deepEqual([ids[0], count(model.tokens.imStart), count(model.tokens.imEnd)], [model.tokens.imStart, 3, 2]);
    const tail = [model.tokens.imStart, ...tokenizer.encode('assistant\n')];
    assert.deepEqual(ids.slice(-tail.length), tail);
  });
});

describe('decoder model: generation', () => {
  it('is not degenerate: prompts lead to different continuations, none starting with EOS, by clear margins', () => {
    const runs = [...expected.values()];
    assert.equal(new Set(runs.map((r) => r.tokens.join(','))).size, PROMPTS.length);
    for (const run of runs) {
      assert.ok(!model.eosTokenIds.includes(run.tokens[0]!), `first token ${run.tokens[0]} is an end-of-sequence token`);
      assert.ok(new Set(run.tokens).size >= 3, `continuation ${run.tokens} repeats one or two tokens`);
    }
    // The winner leads the runner-up by far more than the comparison tolerance, so 1e-4 cannot flip a choice.
    for (const logits of runs.flatMap((r) => r.logits)) {
      const top = argmax(logits);
      const second = Math.max(...logits.filter((_, i) => i !== top));
      assert.ok(logits[top]! - second > 100 * TOLERANCE, `margin ${logits[top]! - second}`);
    }
  });

  it('generate() on each prompt alone gives the reference ids and logits', async () => {
    for (const text of PROMPTS) {
      const [actual] = await hfGenerate([text]);
      const ref = expected.get(text)!;
      assertSameGeneration(actual!, ref, text);
      if (ref.tokens.length === MAX_NEW_TOKENS) assert.equal(actual!.tokens.length, MAX_NEW_TOKENS);
    }
  });

  it('generate() on a left-padded batch gives every row its own reference ids and logits', async () => {
    const lengths = PROMPTS.map((t) => tokenizer.encode(t).length);
    assert.equal(new Set(lengths).size, PROMPTS.length, `prompt lengths ${lengths} should all differ`);
    const rows = await hfGenerate(PROMPTS);
    rows.forEach((row, r) => assertSameGeneration(row, expected.get(PROMPTS[r]!)!, `row ${r}`));
  });

  it('generate() continues a chat-templated prompt like the reference', async () => {
    const text = tokenizer.apply_chat_template([{ role: 'user', content: 'Tell me a joke about computers.' }], {
      tokenize: false,
      add_generation_prompt: true,
    }) as string;
    const ref = await reference.generate(tokenizer.encode(text), MAX_NEW_TOKENS, model.eosTokenIds);
    const [actual] = await hfGenerate([text]);
    assertSameGeneration(actual!, ref, 'chat prompt');
  });
});

describe('decoder model: architecture', () => {
  it('computes the Qwen2 forward pass: every position of a prompt matches the plain-TypeScript one', async () => {
    const ids = tokenizer.encode(PROMPTS[2]!);
    const fresh = await ReferenceDecoder.load(join(model.dir, 'onnx/model.onnx'), model.dims);
    try {
      const onnx = await fresh.forward(ids);
      const math = decoderLogits(decoderWeights(DECODER_DIMS.tiny, SEED), ids);
      math.forEach((logits, p) => {
        const diff = maxAbsDiff(onnx[p]!, logits);
        assert.ok(diff <= TOLERANCE, `position ${p}: logits differ by ${diff}`);
      });
    } finally {
      await fresh.release();
    }
  });
});

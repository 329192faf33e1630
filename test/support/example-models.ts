import { join } from 'node:path';
import { decoderManifest, writeDecoderModel } from './decoder-model.js';
import { BERT_DIMS, NER_LABELS, SENTIMENT_LABELS, writeBertFixtures, writeCrossEncoderFixture, writeSpladeFixture } from './hf-fixtures.js';
import { whisperManifest, writeWhisperFixture } from './hf-whisper-fixture.js';
import { writeManifest } from './models.js';
import { seq2seqManifest, writeSeq2SeqFixture } from './seq2seq-fixture.js';

/**
 * Generated Hugging Face-layout models, made under `root`, with manifests in the repository `dir`
 * under the names the OpenAPI examples use: `sentiment` (text classification), `ner` (token
 * classification), `whisper-tiny` (speech recognition), `tiny-chat` (text generation), `opus-mt-en-de`
 * (translation), `flan-t5-small` and `distilbart-cnn` (T5-layout text2text, which the summarization
 * route serves too), and for TEI's routes `bert-mini` (an encoder), `reranker` (a cross-encoder) and
 * `splade` (sparse embeddings).
 */
export async function writeExampleModels(dir: string, root: string): Promise<void> {
  const fx = await writeBertFixtures(root);
  const ids = { datatype: 'INT64', shape: [-1] };
  const common = { inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, ...ids })), maxBatchSize: 8 };
  await writeManifest(dir, 'sentiment', {
    ...common,
    task: 'text-classification',
    source: { huggingface: fx.classifier.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [SENTIMENT_LABELS.length] }],
  });
  await writeManifest(dir, 'ner', {
    ...common,
    task: 'token-classification',
    source: { huggingface: fx.tagger.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, NER_LABELS.length] }],
  });
  await writeManifest(dir, 'bert-mini', {
    ...common,
    task: 'feature-extraction',
    source: { huggingface: fx.encoder.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, BERT_DIMS.hidden] }],
    parameters: { pooling: 'mean', normalize: true },
  });
  const reranker = await writeCrossEncoderFixture(join(root, 'cross-encoder'));
  await writeManifest(dir, 'reranker', {
    ...common,
    task: 'text-classification',
    source: { huggingface: reranker.dir, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [1] }],
  });
  const splade = await writeSpladeFixture(join(root, 'splade'));
  await writeManifest(dir, 'splade', spladeManifest(splade.dir, splade.decoder.out));
  await writeManifest(dir, 'whisper-tiny', whisperManifest(await writeWhisperFixture(join(root, 'whisper'))));
  await writeManifest(dir, 'tiny-chat', decoderManifest(await writeDecoderModel(join(root, 'tiny-chat'), 'tiny', 5)));
  await writeManifest(dir, 'opus-mt-en-de', seq2seqManifest(await writeSeq2SeqFixture(join(root, 'opus-mt'), 'marian')));
  const t5 = await writeSeq2SeqFixture(join(root, 't5'), 't5');
  await writeManifest(dir, 'flan-t5-small', seq2seqManifest(t5));
  await writeManifest(dir, 'distilbart-cnn', seq2seqManifest(t5));
}

/** A SPLADE model's manifest: masked-LM logits over `vocabulary` tokens, pooled by "splade", not normalised. */
export function spladeManifest(folder: string, vocabulary: number): object {
  const ids = { datatype: 'INT64', shape: [-1] };
  return {
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, ...ids })),
    maxBatchSize: 8,
    task: 'feature-extraction',
    source: { huggingface: folder, file: 'onnx/model.onnx' },
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, vocabulary] }],
    parameters: { pooling: 'splade', normalize: false },
  };
}

import { join } from 'node:path';
import { decoderManifest, writeDecoderModel } from './decoder-model.js';
import { NER_LABELS, SENTIMENT_LABELS, writeBertFixtures } from './hf-fixtures.js';
import { whisperManifest, writeWhisperFixture } from './hf-whisper-fixture.js';
import { writeManifest } from './models.js';
import { seq2seqManifest, writeSeq2SeqFixture } from './seq2seq-fixture.js';

/**
 * Generated Hugging Face-layout models, made under `root`, with manifests in the repository `dir`
 * under the names the OpenAPI examples use: `sentiment` (text classification), `ner` (token
 * classification), `whisper-tiny` (speech recognition), `tiny-chat` (text generation), `opus-mt-en-de`
 * (translation), `flan-t5-small` and `distilbart-cnn` (T5-layout text2text, which the summarization route serves too).
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
  await writeManifest(dir, 'whisper-tiny', whisperManifest(await writeWhisperFixture(join(root, 'whisper'))));
  await writeManifest(dir, 'tiny-chat', decoderManifest(await writeDecoderModel(join(root, 'tiny-chat'), 'tiny', 5)));
  await writeManifest(dir, 'opus-mt-en-de', seq2seqManifest(await writeSeq2SeqFixture(join(root, 'opus-mt'), 'marian')));
  const t5 = await writeSeq2SeqFixture(join(root, 't5'), 't5');
  await writeManifest(dir, 'flan-t5-small', seq2seqManifest(t5));
  await writeManifest(dir, 'distilbart-cnn', seq2seqManifest(t5));
}

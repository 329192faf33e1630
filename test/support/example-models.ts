import { join } from 'node:path';
import { decoderManifest, writeDecoderModel } from './decoder-model.js';
import { NER_LABELS, SENTIMENT_LABELS, writeBertFixtures } from './hf-fixtures.js';
import { whisperManifest, writeWhisperFixture } from './hf-whisper-fixture.js';
import { writeManifest } from './models.js';

/**
 * Generated Hugging Face-layout models, made under `root`, with manifests in the repository `dir`
 * under the names the OpenAPI examples use: `sentiment` (text classification), `ner` (token
 * classification), `whisper-tiny` (speech recognition) and `tiny-chat` (text generation).
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
}

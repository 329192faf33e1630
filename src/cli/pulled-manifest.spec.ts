import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildManifest, inferTask, labelsOf, licenseOf } from './pulled-manifest.js';

describe('inferTask', () => {
  const cases: Array<[object, string]> = [
    [{ architectures: ['DistilBertForSequenceClassification'], id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' } }, 'text-classification'],
    [{ architectures: ['BertForTokenClassification'] }, 'token-classification'],
    [{ architectures: ['ViTForImageClassification'] }, 'image-classification'],
    [{ architectures: ['Wav2Vec2ForCTC'] }, 'automatic-speech-recognition'],
    [{ architectures: ['WhisperForConditionalGeneration'], model_type: 'whisper' }, 'automatic-speech-recognition'],
    [{ model_type: 'whisper' }, 'automatic-speech-recognition'],
    [{ architectures: ['BertModel'], id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } }, 'feature-extraction'],
    [{ model_type: 'bert', id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } }, 'feature-extraction'],
    [{ model_type: 'bert', id2label: { 0: 'spam', 1: 'ham' } }, 'text-classification'],
    [{ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }, 'text-generation'],
    [{ architectures: ['LlamaForCausalLM'] }, 'text-generation'],
    [{ architectures: ['VitsModel'], model_type: 'vits' }, 'text-to-speech'],
    [{ model_type: 'vits' }, 'text-to-speech'],
    [{ model_type: 'yolov10', id2label: { 0: 'person' } }, 'object-detection'],
    [{ model_type: 'yolo11' }, 'object-detection'],
    [{ architectures: ['MarianMTModel'], model_type: 'marian' }, 'translation'],
    [{ architectures: ['M2M100ForConditionalGeneration'], model_type: 'm2m_100' }, 'translation'],
    [{ architectures: ['BartForConditionalGeneration'], model_type: 'bart' }, 'summarization'],
    [{ architectures: ['PegasusForConditionalGeneration'] }, 'summarization'],
    [{ architectures: ['T5ForConditionalGeneration'], model_type: 't5' }, 'text2text-generation'],
    [{ model_type: 'mt5' }, 'text2text-generation'],
    [{}, 'feature-extraction'],
  ];
  for (const [config, task] of cases)
    it(`${JSON.stringify(config)} -> ${task}`, () => assert.equal(inferTask(config as Record<string, unknown>), task));
});

describe('labelsOf and licenseOf', () => {
  it('orders id2label by id and refuses gaps', () => {
    assert.deepEqual(labelsOf({ id2label: { 1: 'b', 0: 'a', 2: 'c' } }), ['a', 'b', 'c']);
    assert.equal(labelsOf({ id2label: { 0: 'a', 2: 'c' } }), undefined);
    assert.equal(labelsOf({}), undefined);
  });
  it('reads the card license, deferring "other" to license_name', () => {
    assert.equal(licenseOf({ license: 'mit' }), 'mit');
    assert.equal(licenseOf({ license: 'other', license_name: 'llama3' }), 'llama3');
    assert.equal(licenseOf({ license: ['mit', 'apache-2.0'] }), 'mit AND apache-2.0');
    assert.equal(licenseOf(undefined), undefined);
  });
});

describe('buildManifest', () => {
  const base = {
    repo: 'o/r',
    revision: 'main',
    commit: 'a'.repeat(40),
    dtype: 'fp32' as const,
    config: { architectures: ['BertModel'] },
    selection: { files: [], primary: 'onnx/model.onnx' },
  };
  it('drops a symbolic batch dimension into maxBatchSize', () => {
    const manifest = buildManifest({
      ...base,
      signature: {
        inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [-1, -1] }],
        outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, -1, 384] }],
        symbolicFirst: true,
      },
    });
    assert.deepEqual(manifest, {
      task: 'feature-extraction',
      description: `o/r (fp32) from the Hugging Face Hub, revision main at commit ${'a'.repeat(40)}`,
      source: { huggingface: 'hf', file: 'onnx/model.onnx' },
      origin: { huggingface: { repo: 'o/r', revision: 'main', commit: 'a'.repeat(40) } },
      inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [-1] }],
      outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, 384] }],
      maxBatchSize: 8,
    });
  });
  it('gives a YOLO export its letterbox and decoder: raw with a symbolic side, end-to-end with 6-wide rows', () => {
    const raw = buildManifest({
      ...base,
      config: { model_type: 'yolov8', id2label: { 0: 'cat', 1: 'dog' } },
      signature: {
        inputs: [{ name: 'images', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
        outputs: [{ name: 'output0', datatype: 'FP32', shape: [-1, 6, -1] }],
        symbolicFirst: true,
      },
    });
    assert.deepEqual(
      [raw.task, raw.inputs, raw.labels, raw.image, raw.parameters, raw.maxBatchSize],
      [
        'object-detection',
        [{ name: 'images', datatype: 'FP32', shape: [3, 640, 640] }],
        ['cat', 'dog'],
        { input: 'images', width: 640, height: 640, fit: 'contain', layout: 'nchw', background: 'gray' },
        { decoder: 'yolo', output: 'output0' },
        8,
      ],
    );
    const end2end = buildManifest({
      ...base,
      config: { model_type: 'yolov10' },
      signature: {
        inputs: [{ name: 'images', datatype: 'FP32', shape: [1, 3, 320, 320] }],
        outputs: [{ name: 'output0', datatype: 'FP32', shape: [1, 300, 6] }],
        symbolicFirst: false,
      },
    });
    assert.deepEqual(
      [end2end.inputs, end2end.image, end2end.parameters, end2end.maxBatchSize],
      [
        [{ name: 'images', datatype: 'FP32', shape: [1, 3, 320, 320] }],
        { input: 'images', width: 320, height: 320, fit: 'contain', layout: 'nchw', background: 'gray' },
        { decoder: 'yolo-end2end', output: 'output0' },
        0,
      ],
    );
  });
  it('refuses a --task the task table does not list, naming the known tasks', () => {
    const signature = {
      inputs: [{ name: 'input_ids', datatype: 'INT64' as const, shape: [-1, -1] }],
      outputs: [{ name: 'logits', datatype: 'FP32' as const, shape: [-1, 2] }],
      symbolicFirst: true,
    };
    assert.throws(() => buildManifest({ ...base, task: 'sentiment', signature }), {
      message:
        /^the generated model\.json: task: unknown task "sentiment"; the known tasks are audio-classification, .*, voice-activity-detection$/,
    });
  });
  it('keeps fixed shapes whole, and names the decoder of a seq2seq model', () => {
    const manifest = buildManifest({
      ...base,
      task: 'automatic-speech-recognition',
      selection: { files: [], primary: 'onnx/encoder_model.onnx', decoder: 'onnx/decoder_model_merged.onnx' },
      signature: {
        inputs: [{ name: 'input_features', datatype: 'FP32', shape: [1, 80, 3000] }],
        outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [1, 1500, 384] }],
        symbolicFirst: false,
      },
    });
    assert.equal(manifest.maxBatchSize, 0);
    assert.deepEqual((manifest.inputs as Array<{ shape: number[] }>)[0]!.shape, [1, 80, 3000]);
    assert.equal(manifest.runtime, 'transformers');
    assert.deepEqual(manifest.parameters, { dtype: 'fp32', decoder: { huggingface: 'hf', file: 'onnx/decoder_model_merged.onnx' } });
  });
  it("serves an encoder-decoder text model on Lathe's seq2seq loop: ONNX Runtime, the encoder as its file, the merged decoder beside it", () => {
    const manifest = buildManifest({
      ...base,
      config: { architectures: ['MarianMTModel'], model_type: 'marian' },
      selection: { files: [], primary: 'onnx/encoder_model_quantized.onnx', decoder: 'onnx/decoder_model_merged_quantized.onnx' },
      dtype: 'q8',
      signature: {
        inputs: [
          { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
          { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
        ],
        outputs: [{ name: 'last_hidden_state', datatype: 'FP32', shape: [-1, -1, 512] }],
        symbolicFirst: true,
      },
    });
    assert.equal(manifest.task, 'translation');
    assert.equal(manifest.runtime, undefined);
    assert.deepEqual(manifest.source, { huggingface: 'hf', file: 'onnx/encoder_model_quantized.onnx' });
    assert.deepEqual(manifest.parameters, {
      dtype: 'q8',
      decoder: { huggingface: 'hf', file: 'onnx/decoder_model_merged_quantized.onnx' },
    });
  });
  it('serves a speech synthesizer (MMS-TTS) as a Transformers.js pipeline', () => {
    const manifest = buildManifest({
      ...base,
      config: { architectures: ['VitsModel'], model_type: 'vits' },
      signature: {
        inputs: [
          { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
          { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
        ],
        outputs: [{ name: 'waveform', datatype: 'FP32', shape: [-1, -1] }],
        symbolicFirst: true,
      },
    });
    assert.equal(manifest.task, 'text-to-speech');
    assert.equal(manifest.runtime, 'transformers');
    assert.deepEqual(manifest.parameters, { dtype: 'fp32' });
  });
});

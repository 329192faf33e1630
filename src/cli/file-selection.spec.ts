import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dtype } from './args.js';
import { CliError } from './cli-error.js';
import { globToRegExp, selectFiles } from './file-selection.js';

const repo = (...names: string[]) => names.map((rfilename) => ({ rfilename }));
const SIDE = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

describe('selectFiles', () => {
  const encoderOnly = repo(
    ...SIDE,
    'README.md',
    '.gitattributes',
    'vocab.txt',
    'onnx/model.onnx',
    'onnx/model.onnx_data',
    'onnx/model_fp16.onnx',
    'onnx/model_quantized.onnx',
    'onnx/model_q4.onnx',
    'onnx/model_q4f16.onnx',
  );
  const cases: Array<[string, Dtype, string[], object]> = [
    ['q8', 'q8', [], { files: [...SIDE, 'onnx/model_quantized.onnx'], primary: 'onnx/model_quantized.onnx' }],
    [
      'fp32 with its external data',
      'fp32',
      [],
      { files: [...SIDE, 'onnx/model.onnx', 'onnx/model.onnx_data'], primary: 'onnx/model.onnx' },
    ],
    ['q4', 'q4', [], { files: [...SIDE, 'onnx/model_q4.onnx'], primary: 'onnx/model_q4.onnx' }],
    ['q4f16', 'q4f16', [], { files: [...SIDE, 'onnx/model_q4f16.onnx'], primary: 'onnx/model_q4f16.onnx' }],
    ['fp16 plus --include', 'fp16', ['*.txt'], { files: [...SIDE, 'vocab.txt', 'onnx/model_fp16.onnx'], primary: 'onnx/model_fp16.onnx' }],
  ];
  for (const [what, dtype, includes, expected] of cases) {
    it(`takes the side files and the ${what} weights`, () => assert.deepEqual(selectFiles('o/r', encoderOnly, dtype, includes), expected));
  }

  it('takes the encoder and merged decoder of a seq2seq export, with split external data', () => {
    const whisper = repo(
      'config.json',
      'generation_config.json',
      'preprocessor_config.json',
      'onnx/encoder_model_quantized.onnx',
      'onnx/decoder_model_merged_quantized.onnx',
      'onnx/decoder_model_merged_quantized.onnx_data',
      'onnx/decoder_model_merged_quantized.onnx_data_1',
      'onnx/decoder_model_quantized.onnx',
      'onnx/encoder_model.onnx',
    );
    assert.deepEqual(selectFiles('o/r', whisper, 'q8'), {
      files: [
        'config.json',
        'preprocessor_config.json',
        'generation_config.json',
        'onnx/encoder_model_quantized.onnx',
        'onnx/decoder_model_merged_quantized.onnx',
        'onnx/decoder_model_merged_quantized.onnx_data',
        'onnx/decoder_model_merged_quantized.onnx_data_1',
      ],
      primary: 'onnx/encoder_model_quantized.onnx',
      decoder: 'onnx/decoder_model_merged_quantized.onnx',
    });
  });

  it('says which dtypes a repository has when the asked one is missing, and what else is wrong', () => {
    const problems: Array<[object[], Dtype, string[], string]> = [
      [
        encoderOnly.filter((s) => s.rfilename !== 'onnx/model_fp16.onnx'),
        'fp16',
        [],
        'o/r has no fp16 ONNX weights (onnx/model_fp16.onnx); it has fp32, q8, q4, q4f16 (use --dtype)',
      ],
      [
        repo('config.json', 'model.safetensors'),
        'q8',
        [],
        'o/r has no q8 ONNX weights (onnx/model_quantized.onnx); it has no ONNX weights in Transformers.js layout',
      ],
      [repo('onnx/model.onnx'), 'fp32', [], 'o/r has no config.json: it is not a Transformers-layout model'],
      [encoderOnly, 'q8', ['*.bin'], '--include *.bin matches no file in o/r'],
    ];
    for (const [siblings, dtype, includes, message] of problems) {
      assert.throws(
        () => selectFiles('o/r', siblings as never, dtype, includes),
        (err: unknown) => err instanceof CliError && err.exitCode === 66 && err.message === message,
      );
    }
  });
});

describe('globToRegExp', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*.txt', 'vocab.txt', true],
    ['*.txt', 'sub/vocab.txt', false],
    ['**/*.txt', 'vocab.txt', true],
    ['**/*.txt', 'a/b/vocab.txt', true],
    ['onnx/**', 'onnx/a/b.onnx', true],
    ['onnx/model?.onnx', 'onnx/model1.onnx', true],
    ['onnx/model?.onnx', 'onnx/model.onnx', false],
    ['config.json', 'configXjson', false],
  ];
  for (const [glob, path, matches] of cases) {
    it(`${glob} ${matches ? 'matches' : 'does not match'} ${path}`, () => assert.equal(globToRegExp(glob).test(path), matches));
  }
});

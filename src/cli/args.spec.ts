import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand } from './args.js';
import { CliError } from './cli-error.js';

describe('parseCommand', () => {
  it('reads pull with its defaults and every option', () => {
    assert.deepEqual(parseCommand(['models', 'pull', 'Xenova/bert-base-uncased']), {
      kind: 'pull',
      repo: 'Xenova/bert-base-uncased',
      revision: 'main',
      dtype: 'q8',
      includes: [],
      name: 'bert-base-uncased',
      task: undefined,
      modelsDir: undefined,
    });
    for (const revision of ['v1.0', 'refs/pr/1', 'a'.repeat(40)]) {
      assert.equal((parseCommand(['models', 'pull', 'o/r', '--revision', revision]) as { revision: string }).revision, revision);
    }
    const args = [
      'models',
      'pull',
      'o/r',
      '--revision',
      'v2',
      '--dtype',
      'fp16',
      '--include',
      '*.txt',
      '--include',
      'onnx/**',
      '--name',
      'x',
      '--task',
      't',
      '--models-dir',
      '/m',
    ];
    assert.deepEqual(parseCommand(args), {
      kind: 'pull',
      repo: 'o/r',
      revision: 'v2',
      dtype: 'fp16',
      includes: ['*.txt', 'onnx/**'],
      name: 'x',
      task: 't',
      modelsDir: '/m',
    });
  });

  it('reads list and rm', () => {
    assert.deepEqual(parseCommand(['models', 'list', '--json']), { kind: 'list', json: true, modelsDir: undefined });
    assert.deepEqual(parseCommand(['models', 'rm', 'tiny', '--version', '2']), {
      kind: 'rm',
      name: 'tiny',
      version: '2',
      modelsDir: undefined,
    });
  });

  it('answers help', () => {
    for (const argv of [[], ['--help'], ['models'], ['models', 'pull', '--help']]) assert.equal(parseCommand(argv).kind, 'help');
  });

  const bad: Array<[string[], RegExp]> = [
    [['serve'], /^unknown command "serve"/],
    [['models', 'push'], /^unknown command "models push"/],
    [['models', 'pull'], /^pull takes one repository/],
    [['models', 'pull', 'a/b/c'], /is not a Hub repository id/],
    [['models', 'pull', '../etc'], /is not a Hub repository id/],
    [['models', 'pull', `o/${'r'.repeat(97)}`], /is not a Hub repository id/],
    [['models', 'pull', 'o/r\u0000'], /is not a Hub repository id/],
    [['models', 'pull', 'o/r', '--revision', '../../x'], /^"\.\.\/\.\.\/x" is not a revision/],
    [['models', 'pull', 'o/r', '--revision', '/etc'], /is not a revision/],
    [['models', 'pull', 'o/r', '--revision', 'main\nx'], /is not a revision/],
    [['models', 'pull', 'o/r', '--revision', 'a\\b'], /is not a revision/],
    [['models', 'pull', 'o/r', '--revision', 'x'.repeat(201)], /is not a revision/],
    [['models', 'pull', 'o/r', '--dtype', 'int4'], /^--dtype must be one of q8, fp16, fp32, q4, q4f16/],
    [['models', 'pull', 'o/r', '--name', '.hidden'], /is not a model name/],
    [['models', 'pull', 'o/r', '--version', '1'], /^models pull does not take --version/],
    [['models', 'pull', 'o/r', '--frobnicate'], /^models pull: Unknown option '--frobnicate'/],
    [['models', 'rm', 'x', '--version', 'latest'], /^--version must be a version number/],
    [['models', 'list', 'extra'], /^list takes no arguments/],
  ];
  it('refuses what it cannot read with a usage error (exit 64)', () => {
    for (const [argv, message] of bad) {
      assert.throws(
        () => parseCommand(argv),
        (err: unknown) => err instanceof CliError && err.exitCode === 64 && message.test(err.message),
        argv.join(' '),
      );
    }
  });
});

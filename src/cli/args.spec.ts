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
      force: false,
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
      force: false,
    });
  });

  it('reads list and rm', () => {
    assert.deepEqual(parseCommand(['models', 'list', '--json']), {
      kind: 'list',
      json: true,
      modelsDir: undefined,
      server: { url: undefined, apiKey: undefined },
    });
    assert.deepEqual(parseCommand(['models', 'list', '--url', 'http://127.0.0.1:3000', '--api-key', 'k']), {
      kind: 'list',
      json: false,
      modelsDir: undefined,
      server: { url: 'http://127.0.0.1:3000', apiKey: 'k' },
    });
    assert.deepEqual(parseCommand(['models', 'rm', 'tiny', '--version', '2']), {
      kind: 'rm',
      name: 'tiny',
      version: '2',
      modelsDir: undefined,
    });
  });

  it('reads --version, -v and the files and jobs commands', () => {
    for (const argv of [['--version'], ['-v'], ['version']]) assert.deepEqual(parseCommand(argv), { kind: 'version' });
    const server = { url: 'http://h:1', apiKey: undefined };
    assert.deepEqual(parseCommand(['files', 'upload', 'd.jsonl', '--url', 'http://h:1']), {
      kind: 'files-upload',
      path: 'd.jsonl',
      purpose: 'fine-tune',
      json: false,
      server,
    });
    assert.deepEqual(parseCommand(['jobs', 'list', '--limit', '5', '--json']), {
      kind: 'jobs-list',
      limit: 5,
      json: true,
      server: { url: undefined, apiKey: undefined },
    });
    assert.deepEqual(parseCommand(['jobs', 'follow', 'ftjob-1', '--api-key', 'k']), {
      kind: 'jobs-follow',
      id: 'ftjob-1',
      server: { url: undefined, apiKey: 'k' },
    });
    const create = ['jobs', 'create', '--model', 'glove-100d', '--training-file', 'd.jsonl', '--suffix', 's', '--epochs', '3'];
    assert.deepEqual(parseCommand([...create, '--hyperparameters', '{"head":"mlp","n_epochs":9}', '--follow']), {
      kind: 'jobs-create',
      model: 'glove-100d',
      trainingFile: 'd.jsonl',
      validationFile: undefined,
      suffix: 's',
      hyperparameters: { head: 'mlp', n_epochs: 3 },
      follow: true,
      json: false,
      server: { url: undefined, apiKey: undefined },
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
    [['models', 'list', '--force'], /^models list does not take --force/],
    [['--version', 'x'], /^--version takes no arguments/],
    [['files'], /^files needs a command/],
    [['jobs', 'delete'], /^unknown command "jobs delete"/],
    [['files', 'upload'], /^files upload takes one dataset file/],
    [['files', 'list', '--limit', '0'], /^--limit must be a whole number from 1/],
    [['jobs', 'create', '--training-file', 'x'], /^jobs create needs --model/],
    [['jobs', 'create', '--model', 'm'], /^jobs create needs --training-file/],
    [['jobs', 'create', '--model', 'm', '--training-file', 'x', '--hyperparameters', '[1]'], /^--hyperparameters must be a JSON object/],
    [['jobs', 'follow', 'a', '--json'], /^jobs follow does not take --json/],
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

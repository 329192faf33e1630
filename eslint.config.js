// Lint: typescript-eslint's recommended rules (minus the few listed below) and the project's import
// boundaries (README, Development). The folder-cycle check is scripts/check-folder-cycles.mjs (a whole-graph property
// that a per-file rule cannot see); `npm run lint` runs both.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const onnxOnlyInWorkers = {
  name: 'onnxruntime-node',
  allowTypeImports: true,
  message:
    'onnxruntime-node runs only in worker threads: import it from a *.worker.ts entry point or a *.worker-handler.ts module a worker loads.',
};
const transformersOnlyInWorkers = {
  name: '@huggingface/transformers',
  allowTypeImports: true,
  message:
    'Transformers.js runs only in worker threads: import it from a *.worker.ts entry point or a *.worker-handler.ts module a worker loads.',
};
const typeormOnlyInRepositories = [
  { name: 'typeorm', allowTypeImports: true, message: 'TypeORM belongs to repositories and src/database/ only.' },
  { name: '@nestjs/typeorm', allowTypeImports: true, message: 'TypeORM belongs to repositories and src/database/ only.' },
];

// Files that may import onnxruntime-node / Transformers.js at runtime: code that runs in a worker
// thread. That is the worker entry points (*.worker.ts), the domain modules a worker loads by URL
// (*.worker-handler.ts), and three helpers workers import (the scan loop, the training engine, and
// runtime/session-host.ts, a session worker's body, which inline-thread.ts also hosts on the main
// thread for the models whose manifest opts in, within a measured budget; see ModelRunner).
// Two named files outside workers: nlp/hf-tokenizer.ts (tokenizers on the main thread, no
// inference) and cli/onnx-signature.ts (the lathe CLI reads a model's inputs and outputs).
const workerRuntimeFiles = [
  'src/**/*.worker.ts',
  'src/**/*.worker-handler.ts',
  'src/runtime/scan-loop.ts',
  'src/runtime/session-host.ts',
  'src/training/onnx-train-engine.ts',
  'src/nlp/hf-tokenizer.ts',
  'src/cli/onnx-signature.ts',
];
// Files that may import TypeORM at runtime.
const typeormFiles = [
  'src/database/**/*.ts',
  'src/**/*.repository.ts',
  'src/**/*.entity.ts',
  'src/fine-tuning/fine-tuning-db.ts',
  'src/models/model-change-listener.ts',
  'migrations/**/*.ts',
];
// Tests, benches and scripts build fixtures, drive real sessions and read their own environment.
const exempt = ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'];

const restricted = (paths) => ['error', { paths }];

export default tseslint.config(
  { ignores: ['dist/**', '.dist-build/**', 'node_modules/**', 'models/**', 'coverage/**'] },
  js.configs.recommended,
  { files: ['**/*.mjs', 'eslint.config.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Off: two validators match control characters on purpose (upload file names, hub listings).
      'no-control-regex': 'off',
      // Off: loop state initialised before a try/finally reads more plainly than a bare declaration.
      'no-useless-assignment': 'off',
      // Leading underscore marks a value left out on purpose (a destructured field, a fixed-arity callback).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  // Boundaries: every src file by default.
  {
    files: ['src/**/*.ts'],
    ignores: exempt,
    rules: {
      'no-restricted-imports': restricted([onnxOnlyInWorkers, transformersOnlyInWorkers, ...typeormOnlyInRepositories]),
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only src/config/ reads process.env; take a value from AppConfig.' },
      ],
      // no-restricted-imports sees static imports only; a dynamic one would slip past the rules above.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression[source.value=/^(onnxruntime-node|@huggingface.transformers|typeorm|@nestjs.typeorm)$/]',
          message: 'Import onnxruntime-node, Transformers.js and TypeORM statically, where the boundary rules can see it.',
        },
      ],
    },
  },
  { files: workerRuntimeFiles, ignores: exempt, rules: { 'no-restricted-imports': restricted(typeormOnlyInRepositories) } },
  { files: typeormFiles, ignores: exempt, rules: { 'no-restricted-imports': restricted([onnxOnlyInWorkers, transformersOnlyInWorkers]) } },
  { files: ['src/config/**/*.ts'], rules: { 'no-restricted-properties': 'off' } },
  // src/contracts/ is the lowest layer (tensor types, scan spec, manifest schema, task table): every
  // other folder may import it, and it imports nothing else from src/.
  {
    files: ['src/contracts/**/*.ts'],
    ignores: exempt,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [onnxOnlyInWorkers, transformersOnlyInWorkers, ...typeormOnlyInRepositories],
          patterns: [{ group: ['../*'], message: 'src/contracts/ is the lowest layer: it imports nothing else from src/.' }],
        },
      ],
    },
  },
);

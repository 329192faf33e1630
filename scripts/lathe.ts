#!/usr/bin/env node
/**
 * The `lathe` command: `lathe models pull|list|rm`, `lathe files`, `lathe jobs` (see `lathe --help`). The only file of the CLI
 * that reads the environment; an empty variable counts as unset, as for the server.
 */
import { runCli } from '../src/cli/lathe-cli.js';
import { disableOnnxRuntimeTelemetry } from '../src/config/app-config.js';

// `models pull` opens the model with ONNX Runtime to read its inputs and outputs.
disableOnnxRuntimeTelemetry();

const env = (name: string): string | undefined => process.env[name] || undefined;

process.exitCode = await runCli(
  process.argv.slice(2),
  {
    modelsDir: env('LATHE_MODELS_DIR'),
    modelFilesDir: env('LATHE_MODEL_FILES_DIR'),
    hfEndpoint: env('HF_ENDPOINT'),
    hfToken: env('HF_TOKEN'),
    serverUrl: env('LATHE_URL'),
    apiKey: env('LATHE_API_KEY'),
  },
  { stdout: process.stdout, stderr: process.stderr },
);

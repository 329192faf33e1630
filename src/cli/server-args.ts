import { parseArgs } from 'node:util';
import type { CliError } from './cli-error.js';

/** `--url` and `--api-key`, over LATHE_URL and LATHE_API_KEY. */
export interface ServerFlags {
  url?: string;
  apiKey?: string;
}

/** Commands against a running server's fine-tuning API (/v1/files, /v1/fine_tuning/jobs). */
export type ServerCommand =
  | { kind: 'files-upload'; path: string; purpose: string; json: boolean; server: ServerFlags }
  | { kind: 'files-list'; limit?: number; json: boolean; server: ServerFlags }
  | {
      kind: 'jobs-create';
      model: string;
      /** A file id (`file-…`), or a local JSON Lines file to upload first. */
      trainingFile: string;
      validationFile?: string;
      suffix?: string;
      hyperparameters: Record<string, unknown>;
      follow: boolean;
      json: boolean;
      server: ServerFlags;
    }
  | { kind: 'jobs-list'; limit?: number; json: boolean; server: ServerFlags }
  | { kind: 'jobs-follow'; id: string; server: ServerFlags };

export const SERVER_USAGE = `  lathe files upload <dataset.jsonl> [--purpose fine-tune] [--json]
  lathe files list [--limit n] [--json]
  lathe jobs create --model <backbone> --training-file <file-id|dataset.jsonl> [--validation-file <id|path>]
                    [--suffix s] [--epochs n] [--batch-size n] [--hyperparameters json] [--follow] [--json]
  lathe jobs list [--limit n] [--json]
  lathe jobs follow <job-id>
  (files, jobs: [--url url] [--api-key key])`;

const OPTIONS = {
  purpose: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  model: { type: 'string' },
  'training-file': { type: 'string' },
  'validation-file': { type: 'string' },
  suffix: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  hyperparameters: { type: 'string' },
  follow: { type: 'boolean' },
  url: { type: 'string' },
  'api-key': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const COMMON = ['url', 'api-key'];
const VERBS: Record<string, { options: string[]; positionals: number; what?: string }> = {
  'files upload': { options: ['purpose', 'json'], positionals: 1, what: 'one dataset file' },
  'files list': { options: ['limit', 'json'], positionals: 0 },
  'jobs create': {
    options: ['model', 'training-file', 'validation-file', 'suffix', 'epochs', 'batch-size', 'hyperparameters', 'follow', 'json'],
    positionals: 0,
  },
  'jobs list': { options: ['limit', 'json'], positionals: 0 },
  'jobs follow': { options: [], positionals: 1, what: 'one job id (ftjob-…)' },
};

/** `lathe files|jobs <verb> ...`; `usage` makes the usage error (exit 64). */
export function parseServerCommand(
  group: 'files' | 'jobs',
  verb: string | undefined,
  args: string[],
  usage: (message: string) => CliError,
): ServerCommand {
  const name = `${group} ${verb ?? ''}`.trim();
  const spec = VERBS[name];
  if (!spec) throw usage(verb === undefined ? `${group} needs a command` : `unknown command "${name}"`);
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage(`${name}: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  const extra = Object.keys(values).filter((k) => !spec.options.includes(k) && !COMMON.includes(k));
  if (extra.length > 0) throw usage(`${name} does not take --${extra.join(', --')}`);
  if (positionals.length !== spec.positionals) throw usage(`${name} takes ${spec.what ?? 'no arguments'}`);
  const server = { url: values.url, apiKey: values['api-key'] };
  const json = values.json === true;
  switch (name) {
    case 'files upload':
      return { kind: 'files-upload', path: positionals[0]!, purpose: values.purpose ?? 'fine-tune', json, server };
    case 'files list':
      return { kind: 'files-list', limit: count(values.limit, '--limit', usage), json, server };
    case 'jobs list':
      return { kind: 'jobs-list', limit: count(values.limit, '--limit', usage), json, server };
    case 'jobs follow':
      return { kind: 'jobs-follow', id: positionals[0]!, server };
    default:
      return createCommand(values, server, usage);
  }
}

function createCommand(values: Values, server: ServerFlags, usage: (message: string) => CliError): ServerCommand {
  if (!values.model) throw usage('jobs create needs --model (the backbone, e.g. glove-100d)');
  if (!values['training-file']) throw usage('jobs create needs --training-file (a file id or a JSON Lines file)');
  let hyperparameters: Record<string, unknown> = {};
  if (values.hyperparameters !== undefined) {
    try {
      hyperparameters = JSON.parse(values.hyperparameters) as Record<string, unknown>;
    } catch (err) {
      throw usage(`--hyperparameters is not JSON: ${(err as Error).message}`);
    }
    if (typeof hyperparameters !== 'object' || hyperparameters === null || Array.isArray(hyperparameters)) {
      throw usage('--hyperparameters must be a JSON object, e.g. {"n_epochs": 3}');
    }
  }
  const epochs = count(values.epochs, '--epochs', usage);
  const batchSize = count(values['batch-size'], '--batch-size', usage);
  return {
    kind: 'jobs-create',
    model: values.model,
    trainingFile: values['training-file'],
    validationFile: values['validation-file'],
    suffix: values.suffix,
    hyperparameters: {
      ...hyperparameters,
      ...(epochs !== undefined ? { n_epochs: epochs } : {}),
      ...(batchSize !== undefined ? { batch_size: batchSize } : {}),
    },
    follow: values.follow === true,
    json: values.json === true,
    server,
  };
}

function count(value: string | undefined, flag: string, usage: (message: string) => CliError): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,5}$/.test(value)) throw usage(`${flag} must be a whole number from 1`);
  return Number(value);
}

import { parseArgs } from 'node:util';
import { CliError, ExitCode } from './cli-error.js';
import { parseServerCommand, type ServerCommand, type ServerFlags, SERVER_USAGE } from './server-args.js';

export const DTYPES = ['q8', 'fp16', 'fp32', 'q4', 'q4f16'] as const;
export type Dtype = (typeof DTYPES)[number];

export type Command =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | ServerCommand
  | {
      kind: 'pull';
      repo: string;
      revision: string;
      dtype: Dtype;
      includes: string[];
      name: string;
      task?: string;
      modelsDir?: string;
      /** Install a new version even when the newest one holds the same commit and files. */
      force: boolean;
    }
  | { kind: 'list'; json: boolean; modelsDir?: string; server: ServerFlags }
  | { kind: 'rm'; name: string; version?: string; modelsDir?: string };

export const USAGE = `usage:
  lathe models pull <owner/repo> [--revision main] [--dtype q8|fp16|fp32|q4|q4f16] [--include glob]...
                    [--name local-name] [--task task] [--models-dir dir] [--force]
  lathe models list [--json] [--models-dir dir] [--url url] [--api-key key]
  lathe models rm <name> [--version n] [--models-dir dir]
${SERVER_USAGE}
  lathe --version

environment: LATHE_MODELS_DIR (default ./models), HF_ENDPOINT (default https://huggingface.co),
HF_TOKEN (for private and gated repositories), LATHE_URL and LATHE_API_KEY (a running server,
for models list, files and jobs; --url and --api-key win over them)`;

/** A model name the server can route to and the filesystem can hold: no separators, no dot-dirs. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** The Hub's repo ids: `owner/name` (or a bare legacy name), each part at most 96 characters as on the Hub. */
const REPO_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Branches, tags (`v1.0`), pull-request refs (`refs/pr/1`) and commit shas; it only ever goes into a URL. */
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._+/-]{0,199}$/;

const usage = (message: string) => new CliError(`${message}\n${USAGE}`, ExitCode.Usage);

/** `lathe <argv>` as a command; throws a usage error (exit 64) for anything it cannot read. */
export function parseCommand(argv: readonly string[]): Command {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') return { kind: 'help', text: USAGE };
  if (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version') {
    if (argv.length > 1) throw usage(`${argv[0]} takes no arguments`);
    return { kind: 'version' };
  }
  const [group, verb, ...rest] = argv;
  if (group === 'files' || group === 'jobs') return parseServerCommand(group, verb, rest, usage);
  if (group !== 'models') throw usage(`unknown command "${group}"`);
  if (verb === undefined || verb === '--help' || verb === '-h') return { kind: 'help', text: USAGE };
  const parsed = parse(rest, verb);
  if (parsed.values.help) return { kind: 'help', text: USAGE };
  switch (verb) {
    case 'pull':
      return pullCommand(parsed);
    case 'list':
      rejectOthers(parsed.values, ['json', 'models-dir', 'url', 'api-key'], 'list');
      if (parsed.positionals.length > 0) throw usage('list takes no arguments');
      return {
        kind: 'list',
        json: parsed.values.json === true,
        modelsDir: parsed.values['models-dir'],
        server: { url: parsed.values.url, apiKey: parsed.values['api-key'] },
      };
    case 'rm':
    case 'remove':
      return rmCommand(parsed);
    default:
      throw usage(`unknown command "models ${verb}"`);
  }
}

const OPTIONS = {
  revision: { type: 'string' },
  dtype: { type: 'string' },
  include: { type: 'string', multiple: true },
  name: { type: 'string' },
  task: { type: 'string' },
  'models-dir': { type: 'string' },
  version: { type: 'string' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  url: { type: 'string' },
  'api-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Parsed = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;

function parse(args: string[], verb: string): Parsed {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage(`models ${verb}: ${(err as Error).message}`);
  }
}

function pullCommand({ values, positionals }: Parsed): Command {
  const allowed = ['revision', 'dtype', 'include', 'name', 'task', 'models-dir', 'force'];
  rejectOthers(values, allowed, 'pull');
  if (positionals.length !== 1) throw usage('pull takes one repository, e.g. Xenova/bert-base-uncased');
  const repo = positionals[0]!;
  if (!REPO_ID.test(repo) || repo.includes('..')) throw usage(`"${repo}" is not a Hub repository id (owner/name)`);
  const dtype = values.dtype ?? 'q8';
  if (!(DTYPES as readonly string[]).includes(dtype)) throw usage(`--dtype must be one of ${DTYPES.join(', ')}`);
  const name = values.name ?? repo.split('/').at(-1)!;
  checkName(name);
  const revision = values.revision ?? 'main';
  if (!REVISION.test(revision) || revision.includes('..') || revision.includes('//') || revision.endsWith('/')) {
    throw usage(`"${revision}" is not a revision (a branch, tag or commit: letters, digits, "._+-/", at most 200 characters)`);
  }
  return {
    kind: 'pull',
    repo,
    revision,
    dtype: dtype as Dtype,
    includes: values.include ?? [],
    name,
    task: values.task,
    modelsDir: values['models-dir'],
    force: values.force === true,
  };
}

function rmCommand({ values, positionals }: Parsed): Command {
  rejectOthers(values, ['version', 'models-dir'], 'rm');
  if (positionals.length !== 1) throw usage('rm takes one model name');
  const name = positionals[0]!;
  checkName(name);
  if (values.version !== undefined && !/^\d+$/.test(values.version)) throw usage('--version must be a version number');
  return { kind: 'rm', name, version: values.version, modelsDir: values['models-dir'] };
}

export function checkName(name: string): void {
  if (!MODEL_NAME.test(name)) {
    throw usage(`"${name}" is not a model name (letters, digits, ".", "_", "-"; not starting with "." or "-"); pick one with --name`);
  }
}

function rejectOthers(values: Record<string, unknown>, allowed: string[], verb: string): void {
  const extra = Object.keys(values).filter((k) => k !== 'help' && !allowed.includes(k));
  if (extra.length > 0) throw usage(`models ${verb} does not take --${extra.join(', --')}`);
}

import type { Dtype } from './args.js';
import { CliError, ExitCode } from './cli-error.js';

/** One entry of the Hub's `siblings` (with `?blobs=true`: `size`, `blobId`, and `lfs` for LFS files). */
export interface HubSibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { sha256: string; size: number; pointerSize?: number };
}

export interface Selection {
  /** Every file to download, config and tokenizer files first, weights last. */
  files: string[];
  /** The ONNX file the manifest points at (the encoder of an encoder/decoder model). */
  primary: string;
  /** The merged decoder of an encoder/decoder model. */
  decoder?: string;
}

/** What a pipeline reads besides the weights, when the repository has it. */
export const SIDE_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'preprocessor_config.json',
  'generation_config.json',
];

/** Transformers.js' file names per dtype: `model.onnx`, `model_fp16.onnx`, `model_quantized.onnx`, `model_q4.onnx`, `model_q4f16.onnx`. */
export const DTYPE_SUFFIX: Readonly<Record<Dtype, string>> = { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4', q4f16: '_q4f16' };

/** The files `lathe models pull` takes from a repository for one dtype, plus the `--include` globs. */
export function selectFiles(repo: string, siblings: readonly HubSibling[], dtype: Dtype, includes: readonly string[] = []): Selection {
  const names = new Set(siblings.map((s) => s.rfilename));
  if (!names.has('config.json')) {
    throw new CliError(`${repo} has no config.json: it is not a Transformers-layout model`, ExitCode.NotFound);
  }
  const weights = onnxFor(names, dtype);
  if (!weights) {
    const available = (Object.keys(DTYPE_SUFFIX) as Dtype[]).filter((d) => onnxFor(names, d));
    const hint =
      available.length > 0 ? `; it has ${available.join(', ')} (use --dtype)` : '; it has no ONNX weights in Transformers.js layout';
    throw new CliError(`${repo} has no ${dtype} ONNX weights (onnx/model${DTYPE_SUFFIX[dtype]}.onnx)${hint}`, ExitCode.NotFound);
  }
  const onnxFiles = [weights.primary, ...(weights.decoder ? [weights.decoder] : [])];
  const external = [...names].filter((n) => onnxFiles.some((f) => isExternalDataOf(n, f))).sort();
  const included = includes.flatMap((glob) => {
    const re = globToRegExp(glob);
    const matched = [...names].filter((n) => re.test(n));
    if (matched.length === 0) throw new CliError(`--include ${glob} matches no file in ${repo}`, ExitCode.NotFound);
    return matched.sort();
  });
  const files = [...SIDE_FILES.filter((f) => names.has(f)), ...included, ...onnxFiles, ...external];
  return { files: [...new Set(files)], ...weights };
}

function onnxFor(names: ReadonlySet<string>, dtype: Dtype): { primary: string; decoder?: string } | undefined {
  const s = DTYPE_SUFFIX[dtype];
  for (const single of [`onnx/model${s}.onnx`, `model${s}.onnx`]) if (names.has(single)) return { primary: single };
  const encoder = `onnx/encoder_model${s}.onnx`;
  const decoder = `onnx/decoder_model_merged${s}.onnx`;
  if (names.has(encoder) && names.has(decoder)) return { primary: encoder, decoder };
  return undefined;
}

/** ONNX external data beside a model: `model.onnx_data`, and `model.onnx_data_1`... when split. */
function isExternalDataOf(name: string, onnxFile: string): boolean {
  return name === `${onnxFile}_data` || new RegExp(`^${escape(onnxFile)}_data_\\d+$`).test(name);
}

/** `*` and `?` stay inside one path segment, `**` crosses them (`onnx/**`, `**\/*.txt`). */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += escape(c);
  }
  return new RegExp(`^${out}$`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

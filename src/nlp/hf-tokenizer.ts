import { join } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';

let configured = false;

/**
 * Transformers.js reads only local files here: no Hub access at run time (models come from
 * `lathe models pull` or `models:prepare`), and its cache lives in Lathe's data dir, not in
 * node_modules.
 */
export function configureTransformers(dataDir: string): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // Model folders are given as absolute paths.
  env.localModelPath = '/';
  env.cacheDir = join(dataDir, 'hf-cache');
  configured = true;
}

/** The tokenizer of a Hugging Face-layout folder (tokenizer.json, tokenizer_config.json). */
export function loadTokenizer(folder: string): Promise<PreTrainedTokenizer> {
  if (!configured) throw new Error('configureTransformers() must run before a tokenizer is loaded');
  return AutoTokenizer.from_pretrained(folder);
}

export type { PreTrainedTokenizer };

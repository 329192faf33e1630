import { parseManifest, type TensorSpec } from '../contracts/model-manifest.js';
import type { Dtype } from './args.js';
import type { Selection } from './file-selection.js';
import type { OnnxSignature } from './onnx-signature.js';
import { PULL_FALLBACK, TASKS, type TaskName, type TaskRow, taskRow } from '../contracts/task-table.js';

/** The folder inside a version that holds the Hub's files, as `source.huggingface` names it. */
export const HF_FOLDER = 'hf';
/** Batch limit written for models whose first dimension is symbolic; edit model.json to tune. */
export const DEFAULT_MAX_BATCH_SIZE = 8;

/** The task table's rows in order: the first whose head class names (or model types) match wins. */
const ROWS = Object.entries(TASKS) as Array<[TaskName, TaskRow]>;

/**
 * The task of a Transformers model from its config.json: the head in `architectures`, else the
 * model type for speech models, else a classifier when `id2label` names real labels, else the
 * encoder's hidden states (`feature-extraction`, as for sentence-transformers exports).
 */
export function inferTask(config: Record<string, unknown>): TaskName {
  const architectures = Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  for (const [task, row] of ROWS) if (row.architectures?.some((pattern) => architectures.some((a) => pattern.test(a)))) return task;
  const modelType = config.model_type;
  for (const [task, row] of ROWS) if (typeof modelType === 'string' && row.modelTypes?.includes(modelType)) return task;
  const labels = labelsOf(config);
  if (architectures.length === 0 && labels && !labels.every((l, i) => l === `LABEL_${i}`)) return PULL_FALLBACK.labelled;
  return PULL_FALLBACK.unlabelled;
}

/** `id2label` as a list in id order, when its ids are exactly 0..n-1. */
export function labelsOf(config: Record<string, unknown>): string[] | undefined {
  const map = config.id2label;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return undefined;
  const entries = Object.entries(map as Record<string, unknown>);
  const labels: string[] = [];
  for (const [id, label] of entries) {
    const i = Number(id);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof label !== 'string') return undefined;
    labels[i] = label;
  }
  return entries.length > 0 && labels.length === entries.length ? labels : undefined;
}

/** The license from the model card's metadata (`license: other` defers to `license_name`). */
export function licenseOf(cardData: { license?: unknown; license_name?: unknown } | undefined): string | undefined {
  const license = Array.isArray(cardData?.license)
    ? cardData.license.filter((l) => typeof l === 'string').join(' AND ')
    : cardData?.license;
  if (license === 'other' && typeof cardData?.license_name === 'string') return cardData.license_name;
  return typeof license === 'string' && license !== '' ? license : undefined;
}

export interface PulledModel {
  repo: string;
  revision: string;
  commit: string;
  dtype: Dtype;
  config: Record<string, unknown>;
  cardData?: { license?: unknown; license_name?: unknown };
  selection: Selection;
  signature: OnnxSignature;
  /** `--task`, over what config.json suggests. */
  task?: string;
}

/**
 * model.json for a pulled model: only what differs from the schema's defaults, checked by the
 * server's own schema before it is written.
 */
export function buildManifest(m: PulledModel): Record<string, unknown> {
  const task = m.task ?? inferTask(m.config);
  const batched = m.signature.symbolicFirst;
  const shapes = (specs: TensorSpec[]) => specs.map((s) => ({ ...s, shape: batched ? s.shape.slice(1) : s.shape }));
  const labels = taskRow(task)?.labelled ? labelsOf(m.config) : undefined;
  const license = licenseOf(m.cardData);
  const manifest = {
    task,
    description: `${m.repo} (${m.dtype}) from the Hugging Face Hub, revision ${m.revision} at commit ${m.commit}`,
    ...(license ? { license } : {}),
    source: { huggingface: HF_FOLDER, file: m.selection.primary },
    origin: { huggingface: { repo: m.repo, revision: m.revision, commit: m.commit } },
    inputs: shapes(m.signature.inputs),
    outputs: shapes(m.signature.outputs),
    ...(labels ? { labels } : {}),
    // Encoder/decoder models (Whisper) generate in a loop: Lathe serves them as Transformers.js pipelines.
    ...(m.selection.decoder
      ? { runtime: 'transformers', parameters: { dtype: m.dtype, decoder: { huggingface: HF_FOLDER, file: m.selection.decoder } } }
      : taskRow(task)?.pipeline
        ? { runtime: 'transformers', parameters: { dtype: m.dtype } }
        : {}),
    maxBatchSize: batched ? DEFAULT_MAX_BATCH_SIZE : 0,
  };
  parseManifest(manifest, 'the generated model.json');
  return manifest;
}

/** `origin.json` beside model.json: where every file came from, and what it hashed to. */
export interface Origin {
  huggingface: { endpoint: string; repo: string; revision: string; commit: string };
  dtype: Dtype;
  pulledAt: string;
  files: Array<{ path: string; size: number; sha256: string }>;
}

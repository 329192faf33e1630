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
  const detector = taskRow(task)?.pulledDetector === 'yolo' ? yoloParts(m.signature, batched) : undefined;
  const license = licenseOf(m.cardData);
  const manifest = {
    task,
    description: `${m.repo} (${m.dtype}) from the Hugging Face Hub, revision ${m.revision} at commit ${m.commit}`,
    ...(license ? { license } : {}),
    source: { huggingface: HF_FOLDER, file: m.selection.primary },
    origin: { huggingface: { repo: m.repo, revision: m.revision, commit: m.commit } },
    inputs: detector?.inputs ?? shapes(m.signature.inputs),
    outputs: shapes(m.signature.outputs),
    ...(labels ? { labels } : {}),
    ...(detector ? { image: detector.image, parameters: detector.parameters } : {}),
    // Encoder/decoder text models run on Lathe's seq2seq engine; the others (Whisper) as Transformers.js pipelines.
    ...(m.selection.decoder
      ? {
          ...(taskRow(task)?.decoder === 'seq2seq' ? {} : { runtime: 'transformers' }),
          parameters: { dtype: m.dtype, decoder: { huggingface: HF_FOLDER, file: m.selection.decoder } },
        }
      : taskRow(task)?.pipeline
        ? { runtime: 'transformers', parameters: { dtype: m.dtype } }
        : {}),
    maxBatchSize: batched ? DEFAULT_MAX_BATCH_SIZE : 0,
  };
  parseManifest(manifest, 'the generated model.json');
  return manifest;
}

/** Ultralytics exports take [batch, 3, side, side]; a symbolic side is served at the side they are trained at. */
const YOLO_SIDE = 640;

/**
 * An Ultralytics YOLO export's image input (its side fixed when the graph leaves it symbolic), its
 * letterbox, and its decoder: end-to-end (NMS in the graph) when its output rows are 6 wide
 * ([batch, detections, 6]), else the raw [batch, 4 + classes, anchors].
 */
function yoloParts(signature: OnnxSignature, batched: boolean) {
  const input = signature.inputs[0]!;
  const output = signature.outputs[0]!;
  const side = (d: number | undefined) => (d !== undefined && d > 0 ? d : YOLO_SIDE);
  const [height, width] = [side(input.shape[2]), side(input.shape[3])];
  return {
    inputs: [{ ...input, shape: batched ? [3, height, width] : [1, 3, height, width] }],
    image: { input: input.name, width, height, fit: 'contain', layout: 'nchw', background: 'gray' },
    parameters: { decoder: output.shape[output.shape.length - 1] === 6 ? 'yolo-end2end' : 'yolo', output: output.name },
  };
}

/** `origin.json` beside model.json: where every file came from, and what it hashed to. */
export interface Origin {
  huggingface: { endpoint: string; repo: string; revision: string; commit: string };
  dtype: Dtype;
  pulledAt: string;
  files: Array<{ path: string; size: number; sha256: string }>;
}

import { z } from 'zod';
import { scanSpecSchema } from './scan-spec.js';
import { TENSOR_DATATYPES } from './tensor.js';
import { isTask, unknownTaskMessage } from './task-table.js';

const tensorSpec = z.object({
  name: z.string().min(1),
  datatype: z.enum(TENSOR_DATATYPES),
  /** Without the batch dimension when maxBatchSize > 0 (Triton's convention); -1 = any size. */
  shape: z.array(z.number().int().min(-1)),
  /**
   * With maxBatchSize > 0: where the batch dimension sits in the full shape (default 0, Triton's
   * convention). A recurrent state laid out [layers, batch, hidden] has 1. null: the tensor has no
   * batch dimension and is given whole to every run; requests are batched together only when
   * theirs are equal (a sample rate, say).
   */
  batchAxis: z.number().int().min(0).max(8).nullable().optional(),
});

const warmupInput = z.object({
  shape: z.array(z.number().int().min(0)),
  /** Every element takes this value (default 0). */
  value: z.number().default(0),
});

/** A file beside the manifest (or absolute, or under `${LATHE_MODEL_FILES_DIR}`), or one inside an installed npm package. */
const fileRef = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ npm: z.string().min(1), path: z.string().min(1) }).strict(),
]);

const labelsFile = z
  .object({
    from: fileRef,
    /** `lines`: one label per line. `json`: an array of strings, or of objects whose `key` field is the label. */
    format: z.enum(['lines', 'json']).default('lines'),
    key: z.string().min(1).optional(),
  })
  .strict();

const triple = z.array(z.number()).min(1).max(3);

/** How an image becomes the model's input tensor; used by the vision task routes. */
const imagePreprocess = z
  .object({
    /** The input it feeds; default the first. */
    input: z.string().min(1).optional(),
    width: z.number().int().min(1).max(8192),
    height: z.number().int().min(1).max(8192),
    /**
     * `crop`: shorter side to `resize` (default the larger of width and height), then a centre
     * crop; `stretch`: to width x height ignoring aspect; `contain`: inside width x height less
     * `padding` on each side, centred on `background`.
     */
    fit: z.enum(['crop', 'stretch', 'contain']).default('crop'),
    resize: z.number().int().min(1).max(8192).optional(),
    padding: z.number().int().min(0).max(4096).default(0),
    /** Crop to the content first (uniform borders removed), as for drawings. */
    trim: z.boolean().default(false),
    channels: z.enum(['rgb', 'bgr', 'gray']).default('rgb'),
    layout: z.enum(['nchw', 'nhwc']).default('nchw'),
    /** value = ((invert ? 255 - pixel : pixel) * scale - mean) / std, per channel. */
    invert: z.boolean().default(false),
    scale: z.number().default(1 / 255),
    mean: triple.default([0]),
    std: triple.default([1]),
    /** What transparent pixels (and letterbox padding) become, before any inversion; gray is 114, as Ultralytics pads. */
    background: z.enum(['white', 'black', 'gray']).default('white'),
  })
  .strict();

const source = z.union([
  ...fileRef.options,
  /** A Hugging Face-layout folder (config.json, onnx/model*.onnx), as `lathe models pull` or the Hub CLI writes it. */
  z.object({ huggingface: z.string().min(1), file: z.string().min(1).default('onnx/model.onnx') }).strict(),
]);

/** `models/<name>/<version>/model.json`: what a model is, where its weights are, and how to serve it. */
export const modelManifestSchema = z
  .object({
    /** A row of the task table (src/contracts/task-table.ts); what it is decides which routes serve the model. */
    task: z.string().superRefine((task, ctx) => {
      if (!isTask(task)) ctx.addIssue({ code: 'custom', message: unknownTaskMessage(task) });
    }),
    /**
     * `onnxruntime`: session workers running the one ONNX file. `transformers`: Transformers.js
     * pipeline workers over the Hugging Face-layout folder (models whose inference is a loop over
     * several sessions, such as Whisper); `parameters.dtype` picks its files.
     */
    runtime: z.enum(['onnxruntime', 'transformers']).default('onnxruntime'),
    description: z.string().default(''),
    license: z.string().default('unknown'),
    source,
    inputs: z.array(tensorSpec).min(1),
    outputs: z.array(tensorSpec).min(1),
    labels: z.union([z.array(z.string()), labelsFile]).optional(),
    image: imagePreprocess.optional(),
    /** For a recurrent model run over a long signal window by window (Silero VAD). */
    stream: scanSpecSchema.optional(),
    /** Where `lathe models pull` got the files (origin.json beside the manifest lists every file's sha256). */
    origin: z
      .object({
        huggingface: z
          .object({ repo: z.string().min(1), revision: z.string().min(1), commit: z.string().regex(/^[0-9a-f]{40}$/) })
          .strict(),
      })
      .strict()
      .optional(),
    /** Task-specific settings, validated by the task that uses the model. */
    parameters: z.record(z.string(), z.unknown()).default({}),
    /** 0: no batch dimension. >0: every input and output has a batch dimension (the first, unless its batchAxis says otherwise). */
    maxBatchSize: z.number().int().min(0).max(4096).default(0),
    dynamicBatching: z
      .object({
        preferredBatchSizes: z.array(z.number().int().min(1)).default([]),
        maxQueueDelayMicroseconds: z.number().int().min(0).max(10_000_000).default(0),
      })
      .optional(),
    instances: z.number().int().min(1).max(64).default(1),
    intraOpThreads: z.number().int().min(1).max(256).default(1),
    /**
     * Whether ONNX Runtime's intra-op threads spin while they wait for work (its
     * `session.intra_op.allow_spinning`). Unset: ONNX Runtime's default (spin), except for a
     * text-generation model's decode loop, which runs JavaScript between steps (off).
     */
    intraOpSpinning: z.boolean().optional(),
    queue: z.object({ maxSize: z.number().int().min(1).max(100_000).default(128) }).default({ maxSize: 128 }),
    /**
     * Run a request that is the only one in progress, of at most maxRows rows and maxElements input
     * values (tensor elements; an embedding request's characters or token ids), on the main thread
     * (ModelRunner's inline execution): for models measured cheaper than a thread hop (a table
     * lookup). The third call over budgetMs ends it for the loaded version.
     */
    inline: z
      .object({
        budgetMs: z.number().positive().max(5),
        maxRows: z.number().int().min(1).max(64).default(1),
        maxElements: z.number().int().min(1).max(1_000_000).default(4096),
      })
      .strict()
      .optional(),
    timeoutMs: z.number().int().min(1).max(3_600_000).default(30_000),
    /** Inputs for one run before the model reports ready; without it no warm-up runs. */
    warmup: z.record(z.string(), warmupInput).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const tensors = [...m.inputs.map((t, i) => ['inputs', i, t] as const), ...m.outputs.map((t, i) => ['outputs', i, t] as const)];
    for (const [list, i, t] of tensors) {
      if (t.batchAxis === undefined) continue;
      if (m.maxBatchSize === 0) ctx.addIssue({ code: 'custom', path: [list, i, 'batchAxis'], message: 'batchAxis needs maxBatchSize > 0' });
      else if (t.batchAxis !== null && t.batchAxis > t.shape.length) {
        ctx.addIssue({
          code: 'custom',
          path: [list, i, 'batchAxis'],
          message: `batchAxis ${t.batchAxis} is beyond the ${t.shape.length} dimensions of the shape`,
        });
      }
    }
    if (m.maxBatchSize > 0 && m.inputs.every((t) => t.batchAxis === null)) {
      ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'with maxBatchSize > 0 at least one input must have a batch dimension' });
    }
  });

export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type TensorSpec = z.infer<typeof tensorSpec>;
export type FileRef = z.infer<typeof fileRef>;
export type ImagePreprocess = z.infer<typeof imagePreprocess>;

export function parseManifest(json: unknown, where: string): ModelManifest {
  const parsed = modelManifestSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`${where}: ${problems.join('; ')}`);
}

/** Where a tensor's batch dimension is in its full shape; null when it has none. */
export function batchAxisOf(spec: TensorSpec, maxBatchSize: number): number | null {
  if (maxBatchSize === 0) return null;
  return spec.batchAxis === undefined ? 0 : spec.batchAxis;
}

/** The full shape a request gives: the manifest's shape with -1 at the batch axis, if any. */
export function fullShape(spec: TensorSpec, maxBatchSize: number): number[] {
  const axis = batchAxisOf(spec, maxBatchSize);
  return axis === null ? [...spec.shape] : [...spec.shape.slice(0, axis), -1, ...spec.shape.slice(axis)];
}

/** Every input's and output's batch axis, by name (the runtime's view of the manifest). */
export function batchAxes(manifest: Pick<ModelManifest, 'inputs' | 'outputs' | 'maxBatchSize'>): Record<string, number | null> {
  const axes: Record<string, number | null> = {};
  for (const t of [...manifest.inputs, ...manifest.outputs]) axes[t.name] = batchAxisOf(t, manifest.maxBatchSize);
  return axes;
}

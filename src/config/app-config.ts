import { type ApiKey, parseApiKeys } from './api-keys.js';
import { envSchema } from './config.schema.js';

export interface AppConfig {
  http: {
    port: number;
    host: string;
    bodyLimitBytes: number;
    /** `false` disables CORS; `true` reflects any origin; a list allows exactly those origins. */
    corsOrigins: false | true | string[];
    /** Passed to Fastify's `trustProxy`: a boolean, a hop count or a list of addresses. */
    trustProxy: boolean | number | string[];
    timeouts: HttpTimeouts;
  };
  log: { level: string };
  database: {
    /** External server; when absent an embedded PostgreSQL is started. */
    url?: string;
    runMigrations: boolean;
    embedded: { dataDir: string; port: number };
    /** Bounds on every wait for the database, so a stalled server costs a request 503, not a hang. */
    timeouts: DatabaseTimeouts;
  };
  auth: { keys: ApiKey[] };
  lifecycle: { shutdownDelayMs: number; shutdownGraceMs: number; heartbeatMs: number };
  storage: {
    /** Stored bytes (artifacts, files) are read this many at a time, never as one value. */
    sliceBytes: number;
    /** Checkpoints a job keeps, newest first; older ones and their artifacts are deleted as new ones are written. */
    checkpointsKeepLast: number | 'all';
    /** Also keep the checkpoint with the lowest validation loss. */
    checkpointsKeepBest: boolean;
  };
  models: {
    dir: string;
    /** Model names to load at boot; `*` loads every model in the repository. */
    preload: string[] | '*';
    /** ONNX Runtime execution providers in order of preference; the first that loads is used. */
    executionProviders: string[];
    /** Where manifests' `${LATHE_MODEL_FILES_DIR}` points: model files kept outside the repository. */
    filesDir?: string;
    /** Words kept in the generated glove-100d text encoder (most frequent first), or all of them. */
    gloveWords: number | 'all';
    /** The model TEI's routes at the root (/embed, /rerank, ...) serve when the request names none. */
    teiModel?: string;
  };
  fineTuning: {
    /** Budgets checked when a job is created, before any work starts. */
    budget: TrainingBudget;
    /** Jobs this replica runs at once (pg-boss fetchers). */
    runners: number;
    /** A run longer than this is stopped and the job failed. */
    maxRunSeconds: number;
    /** Bytes per row of the backbone feature cache (pg-protocol cannot read a value over 512 MB). */
    featuresChunkBytes: number;
  };
  /** Text generation (decoder models), per model unless its manifest's `parameters` say otherwise. */
  generation: {
    /** Sequences one decode step runs at most. */
    maxSequences: number;
    /** Key/value cache a model's running sequences may hold, padding included. */
    kvCacheBytes: number;
    /** Sequences that may wait for room beyond those that run; past it, 429 OVERLOADED. */
    queue: number;
    /** Prompt tokens (padded, all new sequences together) one prefill pass takes; longer prompts go in several. */
    prefillChunkTokens: number;
  };
  media: {
    /** Decoded images with more pixels are refused before they are decoded (decompression bombs). */
    maxImagePixels: number;
    /**
     * Decode time grows with the longer side, not only with pixels (a 1 x 49,000,000 PNG takes half
     * a minute), so the header's side and aspect ratio are bounded too.
     */
    maxImageSide: number;
    maxImageAspectRatio: number;
    /** Lines read per image by OCR; the rest (last in reading order) are not read. */
    ocrMaxLines: number;
    /** The largest `max_side` an OCR request may ask the detector for. */
    ocrMaxSide: number;
    maxAudioSeconds: number;
    /** Audio decodes (ffmpeg processes, WAV workers) at once; as many again may wait, then 429. */
    audioDecoders: number;
    /** Speech syntheses (one ffmpeg encoder each) at once; as many again may wait, then 429. */
    audioEncoders: number;
    /** Characters of `input` one speech synthesis request may have (OpenAI's limit is 4096). */
    speechMaxInputChars: number;
    /** OIP infer JSON bodies of at least this many bytes are parsed in worker threads (0: every one). */
    oipJsonOffThreadBytes: number;
    oipJsonWorkers: number;
    /** Bodies waiting for a JSON worker beyond the busy ones; past it, 429. */
    oipJsonQueue: number;
  };
}

/** Bounds on how long a client may take; see the README's "HTTP edge" limits. */
export interface HttpTimeouts {
  /** Receiving the request line and headers (Node's headersTimeout). */
  headersMs: number;
  /** Receiving the whole request, body included (Node's requestTimeout); processing is not counted. */
  requestMs: number;
  /** An idle keep-alive connection between two requests. */
  keepAliveMs: number;
  /** A socket with response bytes the client does not read; 0 = never. */
  idleMs: number;
}

export interface TrainingBudget {
  /** Examples in the training and validation files together. */
  maxRows: number;
  maxClasses: number;
  /** rows × feature dim × 4: the features held in memory while training. */
  maxFeatureBytes: number;
  /** Trainable parameters of the head (weights and biases). */
  maxHeadParams: number;
  /** Activations of one training step: batch × (outputs + hidden units). */
  maxStepValues: number;
  /** Optimizer steps of a job (each one a stored metrics row): epochs × batches per epoch. */
  maxSteps: number;
}

export interface DatabaseTimeouts {
  /** Opening a connection (TCP and PostgreSQL's startup handshake). */
  connectMs: number;
  /** Waiting for a free connection of the pool, including opening one. */
  acquireMs: number;
  /** One statement, enforced by the server (statement_timeout) and by the client; 0 means none. */
  queryMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Pure: validates the whole environment at once and throws a ConfigError listing every bad variable. */
export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  // An empty variable means "unset", as in most process managers and .env files.
  const env = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        return `${name}: ${issue.message} (got ${JSON.stringify(env[name] ?? null)})`;
      });
  let keys: ApiKey[] = [];
  try {
    keys = parseApiKeys(env.LATHE_API_KEYS ?? '');
  } catch (err) {
    problems.push(`LATHE_API_KEYS: ${(err as Error).message}`);
  }
  if (parsed.success && parsed.data.LATHE_HTTP_HEADERS_TIMEOUT_MS > parsed.data.LATHE_HTTP_REQUEST_TIMEOUT_MS) {
    // Node refuses the pair: the headers are part of the request.
    problems.push(
      `LATHE_HTTP_HEADERS_TIMEOUT_MS: must not exceed LATHE_HTTP_REQUEST_TIMEOUT_MS (${parsed.data.LATHE_HTTP_REQUEST_TIMEOUT_MS}) (got ${JSON.stringify(env.LATHE_HTTP_HEADERS_TIMEOUT_MS ?? null)})`,
    );
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    http: {
      port: e.PORT,
      host: e.HOST,
      bodyLimitBytes: e.LATHE_BODY_LIMIT_BYTES,
      corsOrigins: parseCors(e.LATHE_CORS_ORIGINS),
      trustProxy: parseTrustProxy(e.LATHE_TRUST_PROXY),
      timeouts: {
        headersMs: e.LATHE_HTTP_HEADERS_TIMEOUT_MS,
        requestMs: e.LATHE_HTTP_REQUEST_TIMEOUT_MS,
        keepAliveMs: e.LATHE_HTTP_KEEP_ALIVE_TIMEOUT_MS,
        idleMs: e.LATHE_HTTP_IDLE_TIMEOUT_MS,
      },
    },
    log: { level: e.LOG_LEVEL },
    database: {
      url: e.DATABASE_URL,
      runMigrations: e.LATHE_MIGRATIONS_RUN,
      embedded: { dataDir: e.LATHE_DATA_DIR, port: e.LATHE_EMBEDDED_PG_PORT },
      timeouts: {
        connectMs: e.LATHE_DB_CONNECT_TIMEOUT_MS,
        acquireMs: e.LATHE_DB_ACQUIRE_TIMEOUT_MS,
        queryMs: e.LATHE_DB_QUERY_TIMEOUT_MS,
      },
    },
    auth: { keys },
    lifecycle: {
      shutdownDelayMs: e.LATHE_SHUTDOWN_DELAY_MS,
      shutdownGraceMs: e.LATHE_SHUTDOWN_GRACE_MS,
      heartbeatMs: e.LATHE_INSTANCE_HEARTBEAT_MS,
    },
    storage: {
      sliceBytes: e.LATHE_STORAGE_SLICE_BYTES,
      checkpointsKeepLast: e.LATHE_CHECKPOINTS_KEEP_LAST,
      checkpointsKeepBest: e.LATHE_CHECKPOINTS_KEEP_BEST,
    },
    models: {
      dir: e.LATHE_MODELS_DIR,
      preload: e.LATHE_MODELS_PRELOAD.trim() === '*' ? '*' : splitList(e.LATHE_MODELS_PRELOAD),
      executionProviders: splitList(e.LATHE_EXECUTION_PROVIDERS),
      filesDir: e.LATHE_MODEL_FILES_DIR.trim() || undefined,
      gloveWords: e.LATHE_GLOVE_WORDS,
      teiModel: e.LATHE_TEI_MODEL.trim() || undefined,
    },
    fineTuning: {
      budget: {
        maxRows: e.LATHE_TRAINING_MAX_ROWS,
        maxClasses: e.LATHE_TRAINING_MAX_CLASSES,
        maxFeatureBytes: e.LATHE_TRAINING_MAX_FEATURE_BYTES,
        maxHeadParams: e.LATHE_TRAINING_MAX_HEAD_PARAMS,
        maxStepValues: e.LATHE_TRAINING_MAX_STEP_VALUES,
        maxSteps: e.LATHE_TRAINING_MAX_STEPS,
      },
      runners: e.LATHE_TRAINING_RUNNERS,
      maxRunSeconds: e.LATHE_TRAINING_MAX_SECONDS,
      featuresChunkBytes: e.LATHE_FEATURES_CHUNK_BYTES,
    },
    generation: {
      maxSequences: e.LATHE_GENERATE_MAX_SEQUENCES,
      kvCacheBytes: e.LATHE_GENERATE_KV_CACHE_BYTES,
      queue: e.LATHE_GENERATE_QUEUE,
      prefillChunkTokens: e.LATHE_GENERATE_PREFILL_CHUNK_TOKENS,
    },
    media: {
      maxImagePixels: e.LATHE_IMAGE_MAX_PIXELS,
      maxImageSide: e.LATHE_IMAGE_MAX_SIDE,
      maxImageAspectRatio: e.LATHE_IMAGE_MAX_ASPECT_RATIO,
      ocrMaxLines: e.LATHE_OCR_MAX_LINES,
      ocrMaxSide: e.LATHE_OCR_MAX_SIDE,
      maxAudioSeconds: e.LATHE_AUDIO_MAX_SECONDS,
      audioDecoders: e.LATHE_AUDIO_DECODERS,
      audioEncoders: e.LATHE_AUDIO_ENCODERS,
      speechMaxInputChars: e.LATHE_SPEECH_MAX_INPUT_CHARS,
      oipJsonOffThreadBytes: e.LATHE_OIP_JSON_OFFTHREAD_BYTES,
      oipJsonWorkers: e.LATHE_OIP_JSON_WORKERS,
      oipJsonQueue: e.LATHE_OIP_JSON_QUEUE,
    },
  };
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

function parseCors(value: string): AppConfig['http']['corsOrigins'] {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === '*' || v === 'true') return true;
  return v
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
}

function parseTrustProxy(value: string): AppConfig['http']['trustProxy'] {
  const v = value.trim();
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
}

/**
 * ONNX Runtime 1.30 builds Microsoft's 1DS telemetry into its Linux and macOS packages: at the
 * first session it writes a device id (TMPDIR/.ses), an event database
 * (~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db) and a log (TMPDIR/mat-debug-<pid>.log),
 * and starts an uploader. A self-hosted server sends nothing anywhere unless its operator asks:
 * this sets ORT_DISABLE_TELEMETRY=1, ONNX Runtime's own opt-out, unless the variable is already
 * set (to 0, say, to keep telemetry). ONNX Runtime reads it from the real environment once per
 * process, so it must be set on the main thread before any thread creates a session.
 */
export function disableOnnxRuntimeTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  env.ORT_DISABLE_TELEMETRY ??= '1';
}

/** The one place that reads process.env. */
export function loadConfigFromEnv(): AppConfig {
  return loadConfig(process.env);
}

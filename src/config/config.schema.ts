import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every environment variable Lathe reads, with its default. `.env.example` and the README's
 * configuration table list the same names; `test/unit` checks that they agree.
 */
export const envSchema = z.object({
  PORT: int(1, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  LATHE_DATA_DIR: z.string().min(1).default('./data'),
  LATHE_EMBEDDED_PG_PORT: int(1024, 65535).default(54329),
  LATHE_MIGRATIONS_RUN: bool.default(true),
  LATHE_BODY_LIMIT_BYTES: int(1024, 2 ** 31 - 1).default(64 * 1024 * 1024),
  LATHE_CORS_ORIGINS: z.string().default(''),
  LATHE_TRUST_PROXY: z.string().default('false'),
  LATHE_API_KEYS: z.string().default(''),
  LATHE_HTTP_HEADERS_TIMEOUT_MS: int(100, 600_000).default(10_000),
  LATHE_HTTP_REQUEST_TIMEOUT_MS: int(100, 3_600_000).default(60_000),
  LATHE_HTTP_KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000).default(72_000),
  LATHE_HTTP_IDLE_TIMEOUT_MS: int(0, 3_600_000).default(120_000),
  LATHE_SHUTDOWN_DELAY_MS: int(0, 600_000).default(0),
  LATHE_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  // pg returns bytea as hex text (twice the size) and cannot hold a string over 512 MB.
  LATHE_STORAGE_SLICE_BYTES: int(4096, 64 * 1024 * 1024).default(1024 * 1024),
  LATHE_CHECKPOINTS_KEEP_LAST: z.union([z.literal('all'), int(1, 1_000_000)]).default(3),
  LATHE_CHECKPOINTS_KEEP_BEST: bool.default(true),
  LATHE_INSTANCE_HEARTBEAT_MS: int(1000, 3_600_000).default(15_000),
  LATHE_DB_CONNECT_TIMEOUT_MS: int(100, 600_000).default(5_000),
  LATHE_DB_ACQUIRE_TIMEOUT_MS: int(100, 600_000).default(5_000),
  LATHE_DB_QUERY_TIMEOUT_MS: int(0, 3_600_000).default(10_000),
  LATHE_MODELS_DIR: z.string().min(1).default('./models'),
  LATHE_MODELS_PRELOAD: z.string().default(''),
  LATHE_TEI_MODEL: z.string().max(200).default(''),
  LATHE_EXECUTION_PROVIDERS: z
    .string()
    .regex(/^\s*[a-z]+(\s*,\s*[a-z]+)*\s*$/, 'must be a comma-separated list such as "cuda,cpu"')
    .default('cpu'),
  LATHE_MODEL_FILES_DIR: z.string().default(''),
  LATHE_GLOVE_WORDS: z.union([z.literal('all'), int(1, 10_000_000)]).default(50_000),
  LATHE_TRAINING_MAX_ROWS: int(1, 100_000_000).default(1_000_000),
  LATHE_TRAINING_MAX_CLASSES: int(2, 10_000_000).default(10_000),
  LATHE_TRAINING_MAX_FEATURE_BYTES: int(1024, Number.MAX_SAFE_INTEGER).default(2 * 1024 ** 3),
  LATHE_TRAINING_MAX_HEAD_PARAMS: int(1, 15_000_000).default(4_000_000),
  LATHE_TRAINING_MAX_STEP_VALUES: int(1, 1_000_000_000).default(16_777_216),
  LATHE_TRAINING_MAX_STEPS: int(1, 1_000_000_000).default(10_000_000),
  LATHE_TRAINING_RUNNERS: int(1, 16).default(1),
  LATHE_TRAINING_MAX_SECONDS: int(1, 82_800).default(21_600),
  LATHE_FEATURES_CHUNK_BYTES: int(1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  LATHE_IMAGE_MAX_PIXELS: int(1, 2 ** 31 - 1).default(50_000_000),
  LATHE_AUDIO_MAX_SECONDS: int(1, 86_400).default(3600),
  LATHE_AUDIO_DECODERS: int(1, 256).default(4),
  LATHE_AUDIO_ENCODERS: int(1, 256).default(4),
  LATHE_SPEECH_MAX_INPUT_CHARS: int(1, 1_000_000).default(4096),
  LATHE_IMAGE_MAX_SIDE: int(1, 2 ** 31 - 1).default(16_384),
  LATHE_IMAGE_MAX_ASPECT_RATIO: int(1, 2 ** 31 - 1).default(64),
  LATHE_OCR_MAX_LINES: int(1, 100_000).default(300),
  LATHE_OCR_MAX_SIDE: int(64, 4096).default(1280),
  LATHE_OIP_JSON_OFFTHREAD_BYTES: int(0, 2 ** 31 - 1).default(256 * 1024),
  LATHE_OIP_JSON_WORKERS: int(1, 64).default(2),
  LATHE_OIP_JSON_QUEUE: int(0, 100_000).default(128),
  LATHE_GENERATE_MAX_SEQUENCES: int(1, 1024).default(16),
  LATHE_GENERATE_KV_CACHE_BYTES: int(1024 * 1024, 2 ** 50).default(1024 * 1024 * 1024),
  LATHE_GENERATE_QUEUE: int(0, 100_000).default(64),
  LATHE_GENERATE_PREFILL_CHUNK_TOKENS: int(16, 1_000_000).default(512),
});

export type Env = z.infer<typeof envSchema>;

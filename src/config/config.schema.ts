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
  LATHE_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  LATHE_INSTANCE_HEARTBEAT_MS: int(1000, 3_600_000).default(15_000),
  LATHE_DB_CONNECT_TIMEOUT_MS: int(100, 600_000).default(5_000),
  LATHE_DB_ACQUIRE_TIMEOUT_MS: int(100, 600_000).default(5_000),
  LATHE_DB_QUERY_TIMEOUT_MS: int(0, 3_600_000).default(10_000),
  LATHE_MODELS_DIR: z.string().min(1).default('./models'),
  LATHE_MODELS_PRELOAD: z.string().default(''),
  LATHE_EXECUTION_PROVIDERS: z
    .string()
    .regex(/^\s*[a-z]+(\s*,\s*[a-z]+)*\s*$/, 'must be a comma-separated list such as "cuda,cpu"')
    .default('cpu'),
  LATHE_MODEL_FILES_DIR: z.string().default(''),
  LATHE_GLOVE_WORDS: z.union([z.literal('all'), int(1, 10_000_000)]).default(50_000),
  LATHE_IMAGE_MAX_PIXELS: int(1, 2 ** 31 - 1).default(50_000_000),
  LATHE_AUDIO_MAX_SECONDS: int(1, 86_400).default(3600),
  LATHE_AUDIO_DECODERS: int(1, 256).default(4),
});

export type Env = z.infer<typeof envSchema>;

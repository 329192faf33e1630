import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type AppConfig, type DatabaseTimeouts, loadConfig } from '../config/app-config.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { InstanceEntity } from '../instances/instance.entity.js';
import { boundedClientClass } from './bounded-client.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

export const ENTITIES = [InstanceEntity];

/** The defaults of LATHE_DB_*_TIMEOUT_MS, for callers without an app config. */
const DEFAULT_TIMEOUTS = loadConfig({}).database.timeouts;

/** The one data source definition, shared by the app, the migration CLI and the tests. */
export function createDataSource(url: string, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    // A pooled connection that dies while idle (server restarted, connection cut): the pool drops it.
    poolErrorHandler: (err: Error) => new Logger('Database').warn(`Idle connection lost: ${err.message}`),
    // connectionTimeoutMillis is pg-pool's wait for a free connection; the client bounds the rest.
    extra: { max: 10, connectionTimeoutMillis: timeouts.acquireMs, Client: boundedClientClass(timeouts) },
  });
}

/** The embedded server when no DATABASE_URL is configured, else null. Not started yet. */
export function embeddedPostgresFor(config: AppConfig): EmbeddedPostgres | null {
  if (config.database.url) return null;
  return new EmbeddedPostgres({ ...config.database.embedded, logger: new Logger('EmbeddedPostgres') });
}

/**
 * Opens the data source on DATABASE_URL, or on the embedded PostgreSQL (started here), and runs
 * pending migrations when asked.
 */
export async function openDatabase(
  config: AppConfig,
  embedded: EmbeddedPostgres | null,
  runMigrations = config.database.runMigrations,
): Promise<DataSource> {
  const dataSource = createDataSource(config.database.url ?? (await embedded!.start()), config.database.timeouts);
  await dataSource.initialize();
  if (runMigrations) {
    const applied = await runMigrationsAlone(dataSource);
    new Logger('Database').log(`Migrations: ${applied.length} applied${applied.map((m) => ` ${m.name}`).join(',')}`);
  }
  return dataSource;
}

/** Advisory lock key (namespace, key) of the migrations; the fine-tuning leases use another namespace. */
const MIGRATIONS_LOCK = [0x4d494752, 0] as const; // "MIGR"

/**
 * Replicas that boot together on one database (a new Deployment's pods) take turns: the first
 * applies what is pending while the others wait on the lock, then find nothing left to apply.
 * The wait is bounded by the statement timeout (LATHE_DB_QUERY_TIMEOUT_MS); a replica that gives
 * up exits and is restarted by its platform.
 */
async function runMigrationsAlone(dataSource: DataSource) {
  const session = dataSource.createQueryRunner();
  try {
    await session.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATIONS_LOCK]);
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await session.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATIONS_LOCK]).catch(() => undefined);
    await session.release();
  }
}

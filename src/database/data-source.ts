import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { InstanceEntity } from '../instances/instance.entity.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

export const ENTITIES = [InstanceEntity];

/** The one data source definition, shared by the app, the migration CLI and the tests. */
export function createDataSource(url: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: { max: 10, connectionTimeoutMillis: 10_000 },
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
  const dataSource = createDataSource(config.database.url ?? (await embedded!.start()));
  await dataSource.initialize();
  if (runMigrations) {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    new Logger('Database').log(`Migrations: ${applied.length} applied${applied.map((m) => ` ${m.name}`).join(',')}`);
  }
  return dataSource;
}

import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DatabasePing } from './database-ping.js';
import { createDataSource } from './data-source.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

const EMBEDDED_POSTGRES = Symbol('EMBEDDED_POSTGRES');

/**
 * Opens the data source on DATABASE_URL, or on an embedded PostgreSQL when none is set, and runs
 * pending migrations unless turned off. On shutdown closes the pool first, then the embedded server.
 */
async function openDatabase(config: AppConfig, embedded: EmbeddedPostgres | null): Promise<DataSource> {
  const logger = new Logger('Database');
  const url = config.database.url ?? (await embedded!.start());
  const dataSource = createDataSource(url);
  await dataSource.initialize();
  if (config.database.runMigrations) {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    logger.log(`Migrations: ${applied.length} applied${applied.map((m) => ` ${m.name}`).join(',')}`);
  }
  return dataSource;
}

@Injectable()
class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(EMBEDDED_POSTGRES) private readonly embedded: EmbeddedPostgres | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.embedded?.stop();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: EMBEDDED_POSTGRES,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        config.database.url
          ? null
          : new EmbeddedPostgres({ ...config.database.embedded, logger: new Logger('EmbeddedPostgres') }),
    },
    {
      provide: DataSource,
      inject: [APP_CONFIG, EMBEDDED_POSTGRES],
      useFactory: async (config: AppConfig, embedded: EmbeddedPostgres | null) => {
        try {
          return await openDatabase(config, embedded);
        } catch (err) {
          await embedded?.stop();
          throw err;
        }
      },
    },
    DatabaseLifecycle,
    DatabasePing,
  ],
  exports: [DataSource, DatabasePing],
})
export class DatabaseModule {}

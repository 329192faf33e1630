import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DatabasePing } from './database-ping.js';
import { embeddedPostgresFor, openDatabase } from './data-source.js';
import type { EmbeddedPostgres } from './embedded-postgres.js';

const EMBEDDED_POSTGRES = Symbol('EMBEDDED_POSTGRES');

/** On shutdown: the pool closes first, then the embedded server. */
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
      useFactory: embeddedPostgresFor,
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

import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { FixturesModule } from './fixtures.module.js';

export interface TestApp {
  app: NestFastifyApplication;
  db: TestDatabase;
  /** The Node http.Server, for supertest. */
  server: import('node:http').Server;
  close(): Promise<void>;
}

/** The real app, built by the same createApp() as main.ts, on a fresh migrated database, plus the test fixtures. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL: db.url, ...env });
  const app = await createApp(config, { extraModules: [FixturesModule] });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    db,
    server: app.getHttpServer(),
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { pino } from 'pino';
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
export async function startTestApp(env: Record<string, string> = {}, options: { logLines?: string[] } = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({ LOG_LEVEL: options.logLines ? 'info' : 'silent', DATABASE_URL: db.url, ...env });
  // With logLines the app logs JSON lines into the array instead of stdout.
  const logger = options.logLines ? pino({ level: 'info' }, { write: (line: string) => void options.logLines!.push(line) }) : undefined;
  const app = await createApp(config, { extraModules: [FixturesModule], logger });
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

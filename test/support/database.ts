import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The server tests make their databases on: DATABASE_URL when `npm test` was given one, else the
 * embedded PostgreSQL that scripts/run-tests started. Each test file gets a database of its own.
 */
export function testServerUrl(): string {
  const url = process.env.LATHE_TEST_DATABASE_URL;
  if (!url) throw new Error('LATHE_TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = testServerUrl();
  const name = `lathe_test_${randomBytes(5).toString('hex')}`;
  await adminQuery(server, `CREATE DATABASE "${name}"`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await adminQuery(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

export async function adminQuery(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

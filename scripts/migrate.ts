/**
 * Runs migrations outside the server, on the same data source definition:
 *   npm run migrate            apply pending migrations
 *   npm run migrate:revert     undo the newest one
 * With no DATABASE_URL it starts (and stops) the embedded PostgreSQL, like the server does.
 */
import { Logger } from '@nestjs/common';
import { loadConfigFromEnv } from '../src/config/app-config.js';
import { embeddedPostgresFor, openDatabase } from '../src/database/data-source.js';

const direction = process.argv[2];
if (direction !== 'up' && direction !== 'down') {
  console.error('usage: migrate.js up|down');
  process.exit(2);
}
const config = loadConfigFromEnv();
// PostgreSQL's own log lines are debug output; a migration run shows progress and problems only.
Logger.overrideLogger(['log', 'warn', 'error', 'fatal']);
const embedded = embeddedPostgresFor(config);
try {
  const dataSource = await openDatabase(config, embedded, false);
  try {
    if (direction === 'up') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'nothing to apply');
    } else {
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log('reverted the newest migration');
    }
  } finally {
    await dataSource.destroy();
  }
} finally {
  await embedded?.stop();
}

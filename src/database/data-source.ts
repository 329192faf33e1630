import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { InstanceEntity } from '../instances/instance.entity.js';

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

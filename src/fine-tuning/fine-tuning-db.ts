import { Injectable } from '@nestjs/common';
import { DataSource, type QueryRunner } from 'typeorm';

/** A place to run SQL: the pool, or one transaction's connection. */
export interface Sql {
  rows<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

/** A connection held for as long as a job runs; its session-level advisory lock is the job's lease. */
export interface HeldConnection extends Sql {
  /** `discard`: close the connection instead of pooling it (its session state, a lock, is unknown). */
  release(discard?: boolean): Promise<void>;
  /** The connection broke (the server restarted, the network cut it): its session and locks are gone. */
  readonly lost: boolean;
}

/**
 * Fine-tuning's one door to TypeORM: its repositories write plain SQL through it (their rows are
 * not entities in the app's data source), in a transaction when several writes must land together.
 */
@Injectable()
export class FineTuningDb implements Sql {
  constructor(private readonly dataSource: DataSource) {}

  /** The connection URL of the app's database (DATABASE_URL or the embedded server's). */
  get url(): string {
    const url = (this.dataSource.options as { url?: string }).url;
    if (!url) throw new Error('the data source has no connection URL');
    return url;
  }

  async rows<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await over(runner).rows<T>(text, params);
    } finally {
      await runner.release();
    }
  }

  /** Runs `work` in one transaction; it commits when `work` resolves and rolls back when it throws. */
  async transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const result = await work(over(runner));
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  /** A connection of its own, outside the pool's rotation, until released. */
  async hold(): Promise<HeldConnection> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    // A discarded connection ends its session, and with it any advisory lock it may still hold.
    const discard = (runner as unknown as { releasePostgresConnection(err: Error): Promise<void> }).releasePostgresConnection;
    return {
      ...over(runner),
      release: (drop = false) => (drop ? discard.call(runner, new Error('discarded: session state unknown')) : runner.release()),
      // TypeORM releases a runner whose connection emits 'error'; this code releases it only at the end.
      get lost() {
        return runner.isReleased;
      },
    };
  }
}

function over(runner: QueryRunner): Sql {
  return {
    rows: async <T>(text: string, params: readonly unknown[] = []) => {
      try {
        return (await runner.query(text, params as unknown[], true)).records as T[];
      } catch (err) {
        // This class releases a runner only after its last statement, so a released one here means
        // TypeORM let go of a connection that broke mid-transaction (its 'error' listener releases it).
        if (runner.isReleased && (err as Error).name === 'QueryRunnerAlreadyReleasedError') throw connectionBroke(err);
        throw err;
      }
    },
  };
}

/** SQLSTATE 08003 connection_does_not_exist: what it is, and what isDatabaseUnavailable knows. */
function connectionBroke(cause: unknown): Error {
  return Object.assign(new Error('the database connection broke during the transaction', { cause }), { code: '08003' });
}

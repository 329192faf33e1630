import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { PoolClient, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { ModelRepository } from './model-repository.service.js';

/** Postgres channel on which a replica announces a model it stored (payload: the model's name). */
export const MODELS_CHANNEL = 'lathe_models';
const RETRY_MS = 2000;

/**
 * Keeps every replica's repository current: LISTENs on MODELS_CHANNEL over one pooled connection
 * and re-indexes when a model is announced; after a lost connection it listens again and
 * re-indexes once, for what it missed.
 */
@Injectable()
export class ModelChangeListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Models');
  private client?: PoolClient;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private reindexing = Promise.resolve();

  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: ModelRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.listen(false);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.query(`UNLISTEN ${MODELS_CHANNEL}`).catch(() => undefined);
      client.release();
    }
  }

  private async listen(reindex: boolean): Promise<void> {
    if (this.stopped) return;
    try {
      const pool = (this.dataSource.driver as unknown as { master: Pool }).master;
      const client = await pool.connect();
      client.on('notification', (message) => {
        if (message.channel !== MODELS_CHANNEL) return;
        this.logger.log(`Model announced by a replica: ${message.payload ?? '?'}; re-indexing`);
        this.refresh();
      });
      client.on('error', (err) => this.lost(client, err));
      await client.query(`LISTEN ${MODELS_CHANNEL}`);
      this.client = client;
      if (reindex) this.refresh();
    } catch (err) {
      this.logger.warn(`Cannot listen for model announcements (${(err as Error).message}); retrying`);
      this.retry = setTimeout(() => void this.listen(true), RETRY_MS);
    }
  }

  private lost(client: PoolClient, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.release(err);
    if (this.stopped) return;
    this.logger.warn(`Lost the connection that listens for model announcements (${err.message}); listening again`);
    this.retry = setTimeout(() => void this.listen(true), RETRY_MS);
  }

  /** One re-index at a time, in order. */
  private refresh(): void {
    this.reindexing = this.reindexing
      .then(() => this.repository.reindex())
      .catch((err: Error) => this.logger.error(`Re-indexing after an announcement failed: ${err.message}`));
  }
}

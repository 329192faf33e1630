import { Injectable, Logger } from '@nestjs/common';
import PgBoss from 'pg-boss';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';

export const QUEUE_NAME = 'lathe-fine-tuning';
const SCHEMA = 'pgboss';
/** pg-boss fails a handler after this; a run that long just goes on (the job row's lease is what counts). */
const EXPIRE_HOURS = 23;

interface Message {
  jobId: string;
}

/**
 * The fine-tuning queue: pg-boss on the app's own database, in schema `pgboss`. A message only
 * says "run job X"; each replica fetches one at a time (pg-boss hands a message to one fetcher),
 * and the job row's conditional claim is what makes a run exclusive. Messages are sent inside the
 * transaction that makes a job runnable, so a job is never queued without one.
 */
@Injectable()
export class JobQueue {
  private readonly logger = new Logger('FineTuningQueue');
  private boss?: PgBoss;
  private workerId?: string;

  constructor(private readonly db: FineTuningDb) {}

  async start(): Promise<void> {
    const boss = new PgBoss({
      connectionString: this.db.url,
      schema: SCHEMA,
      max: 3,
      application_name: 'lathe-fine-tuning-queue',
      // Its archive and expiry run only where workers are; Lathe's own sweeper recovers jobs.
      maintenanceIntervalSeconds: 300,
    });
    boss.on('error', (err) => this.logger.warn(`pg-boss: ${err.message}`));
    await boss.start();
    await boss.createQueue(QUEUE_NAME, { name: QUEUE_NAME, policy: 'standard', retryLimit: 0, expireInHours: EXPIRE_HOURS });
    this.boss = boss;
  }

  /** Enqueues "run job X" on `sql` (a transaction's connection): it is visible when that commits. */
  async send(jobId: string, sql: Sql): Promise<string> {
    const db = { executeSql: async (text: string, values: unknown[]) => ({ rows: await sql.rows(text, values) }) };
    const id = await this.started().send(QUEUE_NAME, { jobId } satisfies Message, { db, retryLimit: 0, expireInHours: EXPIRE_HOURS });
    if (!id) throw new Error(`pg-boss did not enqueue job ${jobId}`);
    return id;
  }

  /** Fetches messages one at a time and runs `handler` on each; its promise holds the fetcher until the run ends. */
  async work(handler: (jobId: string) => Promise<void>): Promise<void> {
    this.workerId = await this.started().work<Message>(QUEUE_NAME, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([message]) => {
      if (message) await handler(message.data.jobId);
    });
  }

  /** Wakes this replica's fetcher now instead of at its next poll. */
  wake(): void {
    if (this.workerId) this.boss?.notifyWorker(this.workerId);
  }

  /** Whether a message can still reach a fetcher: created (waiting) or active for less than `activeGraceSeconds`. */
  async isLive(messageId: string, activeGraceSeconds: number): Promise<boolean> {
    const job = await this.started().getJobById(QUEUE_NAME, messageId);
    if (!job) return false;
    if (job.state === 'created' || job.state === 'retry') return true;
    return job.state === 'active' && job.startedOn !== null && Date.now() - new Date(job.startedOn).getTime() < activeGraceSeconds * 1000;
  }

  /** No more fetching on this replica (draining). */
  async stopWorking(): Promise<void> {
    if (this.boss && this.workerId) await this.boss.offWork(QUEUE_NAME).catch(() => undefined);
    this.workerId = undefined;
  }

  async stop(): Promise<void> {
    const boss = this.boss;
    this.boss = undefined;
    this.workerId = undefined;
    await boss?.stop({ graceful: false, close: true, wait: true });
  }

  private started(): PgBoss {
    if (!this.boss) throw new Error('the fine-tuning queue is not started');
    return this.boss;
  }
}

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

/** A job's final status. */
export type FinishedStatus = 'succeeded' | 'failed' | 'cancelled';

/** A queue message left open after its job moved on: the job's status, or null when a newer message replaced it. */
interface OpenMessage {
  id: string;
  jobId: string;
  state: string;
  status: FinishedStatus | null;
}

/** An active message a newer one replaced is closed once it has been active this long (its handler is gone). */
const SUPERSEDED_GRACE_SECONDS = 60;
/** Advisory lock key (namespace, key) of the queue's setup; the job leases use another namespace. */
const SETUP_LOCK = [0x51554555, 0] as const; // "QUEU"

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
  private workerIds: string[] = [];

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
    // Replicas booting together on a fresh database would create pg-boss' schema and queue at the
    // same time, and PostgreSQL answers one of them "deadlock detected": they take turns.
    const turn = await this.db.hold();
    try {
      await turn.rows('SELECT pg_advisory_lock($1, $2)', [...SETUP_LOCK]);
      await boss.start();
      await boss.createQueue(QUEUE_NAME, { name: QUEUE_NAME, policy: 'standard', retryLimit: 0, expireInHours: EXPIRE_HOURS });
    } finally {
      await turn.rows('SELECT pg_advisory_unlock($1, $2)', [...SETUP_LOCK]).catch(() => undefined);
      await turn.release();
    }
    this.boss = boss;
  }

  /** Enqueues "run job X" on `sql` (a transaction's connection): it is visible when that commits. */
  async send(jobId: string, sql: Sql): Promise<string> {
    const db = adapter(sql);
    const id = await this.started().send(QUEUE_NAME, { jobId } satisfies Message, { db, retryLimit: 0, expireInHours: EXPIRE_HOURS });
    if (!id) throw new Error(`pg-boss did not enqueue job ${jobId}`);
    return id;
  }

  /**
   * `runners` fetchers, each taking messages one at a time and running `handler` on each; its
   * promise holds that fetcher until the run ends, so this replica runs at most `runners` jobs at
   * once and a long job leaves the other fetchers free.
   */
  async work(handler: (jobId: string) => Promise<void>, runners = 1): Promise<void> {
    for (let i = 0; i < runners; i += 1) {
      const id = await this.started().work<Message>(QUEUE_NAME, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([message]) => {
        if (message) await handler(message.data.jobId);
      });
      this.workerIds.push(id);
    }
  }

  /**
   * Closes the job's open messages (waiting or active) as the job ended, on `sql` (the transaction
   * that ends the job): a killed runner or a cancel must not leave a message "active" or
   * fetchable for a job that is over.
   */
  async close(jobId: string, status: FinishedStatus, sql: Sql): Promise<void> {
    if (!this.boss) return;
    const open = await sql.rows<{ id: string; state: string }>(
      `SELECT "id", "state"::text AS "state" FROM ${SCHEMA}.job WHERE "name" = $1 AND "data"->>'jobId' = $2 AND "state" < 'completed'`,
      [QUEUE_NAME, jobId],
    );
    await this.closeMessages(
      open.map((m) => ({ ...m, jobId, status })),
      sql,
    );
  }

  /**
   * The sweep's half of close(): messages still open for jobs that have finished (their runner was
   * killed before it could close them), and active messages a newer one replaced. Returns how many.
   */
  async closeLeftOver(sql: Sql): Promise<number> {
    const open = await sql.rows<OpenMessage>(
      `SELECT q."id", q."state"::text AS "state", j."id" AS "jobId",
         CASE WHEN j."status" IN ('succeeded', 'failed', 'cancelled') THEN j."status" END AS "status"
       FROM ${SCHEMA}.job q JOIN "fine_tuning_jobs" j ON j."id" = q."data"->>'jobId'
       WHERE q."name" = $1 AND q."state" < 'completed'
         AND (j."status" IN ('succeeded', 'failed', 'cancelled')
           OR (q."state" = 'active' AND q."id"::text IS DISTINCT FROM j."queue_job_id" AND q."started_on" < now() - make_interval(secs => $2)))`,
      [QUEUE_NAME, SUPERSEDED_GRACE_SECONDS],
    );
    await this.closeMessages(open, sql);
    return open.length;
  }

  private async closeMessages(messages: readonly OpenMessage[], sql: Sql): Promise<void> {
    // Stopped (shutdown): a job that ends now must still end; the next sweep closes its messages.
    const boss = this.boss;
    if (!boss || messages.length === 0) return;
    const db = adapter(sql);
    const ids = (pick: (m: OpenMessage) => boolean) => messages.filter(pick).map((m) => m.id);
    // complete() only moves an active message; a waiting one of a succeeded job is cancelled.
    const completed = ids((m) => m.status === 'succeeded' && m.state === 'active');
    const cancelled = ids((m) => m.status === 'cancelled' || (m.status === 'succeeded' && m.state !== 'active'));
    if (completed.length > 0) await boss.complete(QUEUE_NAME, completed, { db });
    for (const m of messages) {
      if (m.status === 'failed' || m.status === null)
        await boss.fail(QUEUE_NAME, m.id, { closedBy: 'lathe', reason: m.status ?? 'superseded by a newer message' }, { db });
    }
    if (cancelled.length > 0) await boss.cancel(QUEUE_NAME, cancelled, { db });
  }

  /** Wakes this replica's fetchers now instead of at their next poll. */
  wake(): void {
    for (const id of this.workerIds) this.boss?.notifyWorker(id);
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
    if (this.boss && this.workerIds.length > 0) await this.boss.offWork(QUEUE_NAME).catch(() => undefined);
    this.workerIds = [];
  }

  async stop(): Promise<void> {
    const boss = this.boss;
    this.boss = undefined;
    this.workerIds = [];
    await boss?.stop({ graceful: false, close: true, wait: true });
  }

  private started(): PgBoss {
    if (!this.boss) throw new Error('the fine-tuning queue is not started');
    return this.boss;
  }
}

/** pg-boss's `db` option over one of Lathe's connections, so its statements join that transaction. */
function adapter(sql: Sql): PgBoss.Db {
  return { executeSql: async (text: string, values: unknown[]) => ({ rows: await sql.rows<object>(text, values) }) };
}

import { Injectable } from '@nestjs/common';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { newId } from '../ids.js';

export type EventLevel = 'info' | 'warn' | 'error';
export type EventType = 'message' | 'metrics';

export interface EventRow {
  seq: number;
  id: string;
  jobId: string;
  level: EventLevel;
  type: EventType;
  message: string;
  data: Record<string, unknown> | null;
  createdAt: Date;
}

export interface NewEvent {
  level?: EventLevel;
  type?: EventType;
  message: string;
  data?: Record<string, unknown>;
}

const COLUMNS = `"seq"::float8 AS "seq", "id", "job_id" AS "jobId", "level", "type", "message", "data", "created_at" AS "createdAt"`;

@Injectable()
export class JobEventsRepository {
  constructor(private readonly db: FineTuningDb) {}

  async add(jobId: string, event: NewEvent, sql: Sql = this.db): Promise<void> {
    await sql.rows(
      `INSERT INTO "fine_tuning_events" ("id", "job_id", "level", "type", "message", "data") VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        newId('ftevent'),
        jobId,
        event.level ?? 'info',
        event.type ?? 'message',
        event.message,
        event.data ? JSON.stringify(event.data) : null,
      ],
    );
  }

  /** Newest first (OpenAI's order), after the event `after`. */
  list(jobId: string, after: string | undefined, limit: number): Promise<EventRow[]> {
    return this.db.rows<EventRow>(
      `SELECT ${COLUMNS} FROM "fine_tuning_events"
       WHERE "job_id" = $1 AND ($2::text IS NULL OR "seq" < (SELECT "seq" FROM "fine_tuning_events" WHERE "id" = $2))
       ORDER BY "seq" DESC LIMIT $3`,
      [jobId, after ?? null, limit],
    );
  }

  /** The sequence number of one of the job's events (where a stream resumes after `Last-Event-ID`). */
  async seqOf(jobId: string, eventId: string): Promise<number | undefined> {
    const rows = await this.db.rows<{ seq: number }>(
      `SELECT "seq"::float8 AS "seq" FROM "fine_tuning_events" WHERE "job_id" = $1 AND "id" = $2`,
      [jobId, eventId],
    );
    return rows[0]?.seq;
  }

  /** Oldest first, after sequence number `seq`: what a stream has not sent yet. */
  since(jobId: string, seq: number, limit: number): Promise<EventRow[]> {
    return this.db.rows<EventRow>(
      `SELECT ${COLUMNS} FROM "fine_tuning_events" WHERE "job_id" = $1 AND "seq" > $2 ORDER BY "seq" ASC LIMIT $3`,
      [jobId, seq, limit],
    );
  }
}

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { newId } from '../ids.js';
import { readWhole, sliceStream } from '../stored-content.js';

export type ArtifactKind = 'checkpoint' | 'head';

export interface ArtifactRow {
  id: string;
  kind: ArtifactKind;
  mediaType: string;
  bytes: number;
  sha256: string;
  jobId: string | null;
  createdAt: Date;
}

export const ONNX_MEDIA_TYPE = 'application/onnx';
export const TRAINER_STATE_MEDIA_TYPE = 'application/vnd.lathe.trainer-state';

const COLUMNS = `"id", "kind", "media_type" AS "mediaType", "bytes", "sha256", "job_id" AS "jobId", "created_at" AS "createdAt"`;

/**
 * The artifact store: bytes, size and sha256 in one row, written by one INSERT (the table's CHECK
 * ties the size to the bytes), so no artifact row exists without its bytes. The bytes are read
 * back in slices of LATHE_STORAGE_SLICE_BYTES, never as one value (see stored-content.ts).
 */
@Injectable()
export class ArtifactsRepository {
  private readonly sliceBytes: number;

  constructor(
    private readonly db: FineTuningDb,
    @InjectConfig() config: AppConfig,
  ) {
    this.sliceBytes = config.storage.sliceBytes;
  }

  async insert(kind: ArtifactKind, mediaType: string, content: Uint8Array, jobId: string | null, sql: Sql = this.db): Promise<ArtifactRow> {
    const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    // A Buffer parameter goes to Postgres in binary, so writing is not bound by the hex-text limit.
    const [row] = await sql.rows<ArtifactRow>(
      `INSERT INTO "artifacts" ("id", "kind", "media_type", "bytes", "sha256", "content", "job_id") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [newId('artifact'), kind, mediaType, bytes.length, createHash('sha256').update(bytes).digest('hex'), bytes, jobId],
    );
    return row!;
  }

  async find(id: string): Promise<ArtifactRow | undefined> {
    const [row] = await this.db.rows<ArtifactRow>(`SELECT ${COLUMNS} FROM "artifacts" WHERE "id" = $1`, [id]);
    return row;
  }

  /** `length` bytes from `offset`; undefined when the artifact is gone. */
  async slice(id: string, offset: number, length: number): Promise<Buffer | undefined> {
    const [row] = await this.db.rows<{ slice: Buffer }>(
      `SELECT substring("content" FROM $2 FOR $3) AS "slice" FROM "artifacts" WHERE "id" = $1`,
      [id, offset + 1, length],
    );
    return row?.slice;
  }

  /** Bytes [start, end) (all of them by default), read slice by slice as the stream is consumed. */
  stream(row: ArtifactRow, start = 0, end = row.bytes): Readable {
    return sliceStream(`artifact ${row.id}`, (offset, length) => this.slice(row.id, offset, length), start, end, this.sliceBytes);
  }

  /** The whole artifact in memory (a trainer state to resume from, a head to serve). */
  async content(id: string): Promise<{ row: ArtifactRow; content: Buffer } | undefined> {
    const row = await this.find(id);
    const content = row && (await readWhole((offset, length) => this.slice(id, offset, length), row.bytes, this.sliceBytes));
    return row && content ? { row, content } : undefined;
  }

  /**
   * Deletes the checkpoint artifacts (of one job, or of every job when `jobId` is null) that no
   * checkpoint row names any more: pruned, or replaced by a resumed run. One written by a
   * transaction still open is invisible here, so it is never taken.
   */
  async deleteUnreferencedCheckpoints(jobId: string | null, sql: Sql): Promise<number> {
    const rows = await sql.rows<{ id: string }>(
      `DELETE FROM "artifacts" a WHERE ($1::text IS NULL OR a."job_id" = $1) AND a."kind" = 'checkpoint'
         AND NOT EXISTS (SELECT 1 FROM "fine_tuning_checkpoints" c WHERE c."artifact_id" = a."id")
       RETURNING a."id"`,
      [jobId],
    );
    return rows.length;
  }
}

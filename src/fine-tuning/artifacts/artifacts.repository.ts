import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { newId } from '../ids.js';

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
 * ties the size to the bytes), so no artifact row exists without its bytes.
 */
@Injectable()
export class ArtifactsRepository {
  constructor(private readonly db: FineTuningDb) {}

  async insert(kind: ArtifactKind, mediaType: string, content: Uint8Array, jobId: string | null, sql: Sql = this.db): Promise<ArtifactRow> {
    const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
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

  async content(id: string): Promise<{ row: ArtifactRow; content: Buffer } | undefined> {
    const [row] = await this.db.rows<ArtifactRow & { content: Buffer }>(`SELECT ${COLUMNS}, "content" FROM "artifacts" WHERE "id" = $1`, [id]);
    if (!row) return undefined;
    const { content, ...meta } = row;
    return { row: meta, content };
  }
}

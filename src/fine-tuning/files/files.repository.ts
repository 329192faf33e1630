import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { readWhole, sliceStream } from '../stored-content.js';
import type { ValidationReport } from './dataset-parser.js';

export type FilePurpose = 'fine-tune' | 'fine-tune-results';

export interface FileRow {
  id: string;
  filename: string;
  purpose: FilePurpose;
  bytes: number;
  sha256: string;
  lineCount: number;
  validation: ValidationReport | null;
  createdAt: Date;
}

export interface NewFile extends Omit<FileRow, 'createdAt'> {
  content: Buffer;
}

const COLUMNS = `"id", "filename", "purpose", "bytes", "sha256", "line_count" AS "lineCount", "validation", "created_at" AS "createdAt"`;
/** Jobs that still read their files. */
const ACTIVE = `('validating_files', 'queued', 'running')`;

/** Files' bytes are read back in slices of LATHE_STORAGE_SLICE_BYTES, never as one value (see stored-content.ts). */
@Injectable()
export class FilesRepository {
  private readonly sliceBytes: number;

  constructor(
    private readonly db: FineTuningDb,
    @InjectConfig() config: AppConfig,
  ) {
    this.sliceBytes = config.storage.sliceBytes;
  }

  async insert(file: NewFile, sql: Sql = this.db): Promise<FileRow> {
    const [row] = await sql.rows<FileRow>(
      `INSERT INTO "fine_tuning_files" ("id", "filename", "purpose", "bytes", "sha256", "line_count", "content", "validation")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
      [
        file.id,
        file.filename,
        file.purpose,
        file.bytes,
        file.sha256,
        file.lineCount,
        file.content,
        file.validation === null ? null : JSON.stringify(file.validation),
      ],
    );
    return row!;
  }

  async find(id: string): Promise<FileRow | undefined> {
    const [row] = await this.db.rows<FileRow>(`SELECT ${COLUMNS} FROM "fine_tuning_files" WHERE "id" = $1`, [id]);
    return row;
  }

  /** `length` bytes from `offset`; undefined when the file is gone. */
  async slice(id: string, offset: number, length: number): Promise<Buffer | undefined> {
    const [row] = await this.db.rows<{ slice: Buffer }>(
      `SELECT substring("content" FROM $2 FOR $3) AS "slice" FROM "fine_tuning_files" WHERE "id" = $1`,
      [id, offset + 1, length],
    );
    return row?.slice;
  }

  /** Bytes [start, end) (all of them by default), read slice by slice as the stream is consumed. */
  stream(row: FileRow, start = 0, end = row.bytes): Readable {
    return sliceStream(`file ${row.id}`, (offset, length) => this.slice(row.id, offset, length), start, end, this.sliceBytes);
  }

  /** The whole file in memory (a dataset to parse). */
  async content(row: FileRow): Promise<Buffer | undefined> {
    return readWhole((offset, length) => this.slice(row.id, offset, length), row.bytes, this.sliceBytes);
  }

  /** Newest first (or oldest with `asc`), after the file `after` in that order. */
  async list(options: { after?: string; limit: number; order: 'asc' | 'desc'; purpose?: string }): Promise<FileRow[]> {
    const op = options.order === 'desc' ? '<' : '>';
    return this.db.rows<FileRow>(
      `SELECT ${COLUMNS} FROM "fine_tuning_files"
       WHERE ($1::text IS NULL OR "seq" ${op} (SELECT "seq" FROM "fine_tuning_files" WHERE "id" = $1))
         AND ($2::text IS NULL OR "purpose" = $2)
       ORDER BY "seq" ${options.order === 'desc' ? 'DESC' : 'ASC'} LIMIT $3`,
      [options.after ?? null, options.purpose ?? null, options.limit],
    );
  }

  /** Deletes the file unless an active job still needs it: 'deleted', 'in-use' or 'missing'. */
  async deleteUnlessInUse(id: string): Promise<'deleted' | 'in-use' | 'missing'> {
    const [row] = await this.db.rows<{ deleted: boolean; exists: boolean }>(
      `WITH "gone" AS (
         DELETE FROM "fine_tuning_files" f WHERE f."id" = $1 AND NOT EXISTS (
           SELECT 1 FROM "fine_tuning_jobs" j WHERE (j."training_file" = f."id" OR j."validation_file" = f."id") AND j."status" IN ${ACTIVE})
         RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM "gone") AS "deleted", EXISTS (SELECT 1 FROM "fine_tuning_files" WHERE "id" = $1) AS "exists"`,
      [id],
    );
    return row!.deleted ? 'deleted' : row!.exists ? 'in-use' : 'missing';
  }
}

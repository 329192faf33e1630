import { constants } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { newId, unixSeconds } from '../ids.js';
import { cursorQuery, type ListPage, parseOr400, sqlText, toPage } from '../pagination.js';
import { answerDownload, type Download, type DownloadConditions } from '../stored-content.js';
import { parseDataset, type ValidationReport } from './dataset-parser.js';
import { type FilePurpose, type FileRow, FilesRepository } from './files.repository.js';
import type { Upload } from './upload-input.js';

/** OpenAI's file object, plus Lathe's `validation` report, `sha256` and `line_count`. */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: 'processed' | 'error';
  status_details?: string;
  sha256: string;
  line_count: number;
  validation: ValidationReport | null;
}

/**
 * The largest dataset: it is decoded as one string to be parsed (at upload and again when a job
 * reads it), and V8 cannot make a string longer than this (UTF-8 decodes to at most one code unit a
 * byte). It is also well under PostgreSQL's 1 GB bytea limit.
 */
export const MAX_DATASET_BYTES = constants.MAX_STRING_LENGTH;

export const uploadFields = z
  .object({ purpose: z.literal('fine-tune', { error: 'purpose must be "fine-tune": Lathe stores fine-tuning datasets only' }) })
  .strict();
export const listFilesQuery = cursorQuery('file', 10_000, 10_000)
  .extend({ order: z.enum(['asc', 'desc']).default('desc'), purpose: sqlText().max(50).optional() })
  .strict();

@Injectable()
export class FilesService {
  constructor(private readonly files: FilesRepository) {}

  /** Stores a JSONL dataset with its validation report; a file that is not JSONL at all is refused. */
  async upload(upload: Upload): Promise<FileObject> {
    parseOr400(uploadFields, upload.fields, 'form fields');
    if (upload.bytes.length > MAX_DATASET_BYTES) {
      throw new AppError(
        ErrorCode.PayloadTooLarge,
        `${upload.filename} is ${upload.bytes.length} bytes; a dataset holds at most ${MAX_DATASET_BYTES} bytes`,
      );
    }
    const parsed = parseDataset(upload.bytes);
    if (!parsed.jsonl) {
      throw new AppError(ErrorCode.DatasetInvalid, `${upload.filename} is not JSON Lines: ${parsed.errors[0]!.message}`, {
        errors: parsed.errors,
        error_count: parsed.error_count,
      });
    }
    const row = await this.files.insert({
      id: newId('file'),
      filename: upload.filename,
      purpose: 'fine-tune',
      bytes: upload.bytes.length,
      sha256: createHash('sha256').update(upload.bytes).digest('hex'),
      lineCount: parsed.report.lines,
      content: upload.bytes,
      validation: parsed.report,
    });
    return toFileObject(row);
  }

  async list(query: unknown): Promise<ListPage<FileObject>> {
    const q = parseOr400(listFilesQuery, query, 'query');
    const rows = await this.files.list({ after: q.after, limit: q.limit + 1, order: q.order, purpose: q.purpose });
    return toPage(rows, q.limit, toFileObject);
  }

  async get(id: string): Promise<FileObject> {
    return toFileObject(await this.row(id));
  }

  /**
   * The bytes (or the range asked for) as a stream read slice by slice while the client takes
   * them, with type, size and ETag (the sha256); 304 when `If-None-Match` names the ETag.
   */
  async content(id: string, conditions: DownloadConditions): Promise<Download> {
    const row = await this.row(id);
    const headers = { 'content-type': row.filename.endsWith('.csv') ? 'text/csv; charset=utf-8' : 'application/jsonl' };
    return answerDownload(
      { bytes: row.bytes, sha256: row.sha256, headers, open: (start, end) => this.files.stream(row, start, end) },
      conditions,
    );
  }

  async delete(id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    const outcome = await this.files.deleteUnlessInUse(id);
    if (outcome === 'missing') throw notFound(id);
    if (outcome === 'in-use')
      throw new AppError(
        ErrorCode.Conflict,
        `file ${id} is used by a fine-tuning job that has not finished; cancel the job or wait for it`,
      );
    return { id, object: 'file', deleted: true };
  }

  /** The stored row; 404 when there is none. */
  async row(id: string): Promise<FileRow> {
    const row = await this.files.find(id);
    if (!row) throw notFound(id);
    return row;
  }
}

function notFound(id: string): AppError {
  return new AppError(ErrorCode.NotFound, `no file with id "${id}"`);
}

export function toFileObject(row: FileRow): FileObject {
  const report = row.validation;
  const failed = report !== null && !report.valid;
  return {
    id: row.id,
    object: 'file',
    bytes: row.bytes,
    created_at: unixSeconds(row.createdAt),
    filename: row.filename,
    purpose: row.purpose,
    status: failed ? 'error' : 'processed',
    ...(failed ? { status_details: `${report.error_count} problem(s), first: ${describe(report.errors[0])}` } : {}),
    sha256: row.sha256,
    line_count: row.lineCount,
    validation: report,
  };
}

function describe(problem: { line?: number; message: string } | undefined): string {
  if (!problem) return 'unknown';
  return problem.line === undefined ? problem.message : `line ${problem.line}: ${problem.message}`;
}

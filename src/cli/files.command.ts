import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { CliError, ExitCode } from './cli-error.js';
import type { ServerClient } from './server-client.js';
import { formatTable } from './table.js';

/** The parts of the server's file object the CLI shows. */
export interface FileObject {
  id: string;
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: string;
  validation?: { valid: boolean; examples?: number; error_count?: number; errors?: Array<{ line?: number; message: string }> };
}

/** `lathe files upload`: one JSON Lines dataset to POST /v1/files, as multipart `file` + `purpose`. */
export async function uploadFile(server: ServerClient, path: string, purpose: string): Promise<FileObject> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${path}: ${err.code ?? err.message}`, ExitCode.NotFound);
  });
  if (!info.isFile()) throw new CliError(`${path} is not a file`, ExitCode.NotFound);
  const form = new FormData();
  form.append('purpose', purpose);
  form.append('file', await openAsBlob(path, { type: 'application/jsonl' }), basename(path));
  return server.form<FileObject>('/v1/files', form);
}

/** One line saying what the server made of the upload, and its validation errors when it has any. */
export function describeUpload(file: FileObject): string {
  const v = file.validation;
  const examples = v?.examples !== undefined ? `, ${v.examples} examples` : '';
  const lines = [`uploaded ${file.filename} as ${file.id} (${file.bytes} bytes${examples}, status ${file.status})`];
  for (const error of v?.errors?.slice(0, 10) ?? []) lines.push(`  line ${error.line ?? '?'}: ${error.message}`);
  if ((v?.error_count ?? 0) > 10) lines.push(`  … ${v!.error_count! - 10} more errors (lathe files list --json)`);
  return `${lines.join('\n')}\n`;
}

export async function listFiles(server: ServerClient, limit?: number): Promise<FileObject[]> {
  const query = limit ? `?limit=${limit}` : '';
  return (await server.json<{ data: FileObject[] }>('GET', `/v1/files${query}`)).data;
}

export function formatFiles(files: FileObject[]): string {
  if (files.length === 0) return 'no files\n';
  return formatTable([
    ['ID', 'FILENAME', 'PURPOSE', 'BYTES', 'STATUS', 'CREATED'],
    ...files.map((f) => [f.id, f.filename, f.purpose, String(f.bytes), f.status, isoSeconds(f.created_at)]),
  ]);
}

/** Unix seconds as `2026-12-05T11:30:00Z`. */
export function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

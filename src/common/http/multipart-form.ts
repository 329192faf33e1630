import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { ErrorCode } from '../errors/error-code.js';
import { toAppError } from '../errors/to-app-error.js';

/** Limits @fastify/multipart applies to every form (installMediaParsers). */
export const FIELD_SIZE_LIMIT = 1024 * 1024;
export const FORM_LIMITS = { files: 64, fields: 64, fieldSize: FIELD_SIZE_LIMIT, parts: 128 } as const;

export type FormPart =
  | { type: 'file'; fieldname: string; filename: string; mimetype: string; bytes: Buffer }
  | { type: 'field'; fieldname: string; value: string };

/**
 * Reads a whole multipart/form-data body. Every route reads forms here, so that what busboy throws
 * at a body it cannot parse (no boundary, a wrong one, no closing boundary, bad part headers: plain
 * Errors without a code) is 400 MALFORMED_MULTIPART rather than 500, and the files together stay
 * within the route's body limit (@fastify/multipart bounds each file, not their sum).
 */
export async function readForm(request: FastifyRequest): Promise<FormPart[]> {
  const limit = request.routeOptions.bodyLimit;
  const parts: FormPart[] = [];
  let total = 0;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        total += bytes.length;
        if (total > limit)
          throw new AppError(ErrorCode.PayloadTooLarge, `the files of the form add up to more than the body limit of ${limit} bytes`, {
            limit,
          });
        parts.push({ type: 'file', fieldname: part.fieldname, filename: part.filename, mimetype: part.mimetype, bytes });
      } else {
        // busboy cuts a value at the fieldSize limit and says so only in this flag.
        if (part.valueTruncated)
          throw new AppError(ErrorCode.PayloadTooLarge, `form field "${part.fieldname}" is longer than ${FIELD_SIZE_LIMIT} bytes`, {
            limit: FIELD_SIZE_LIMIT,
          });
        parts.push({ type: 'field', fieldname: part.fieldname, value: String(part.value) });
      }
    }
  } catch (err) {
    throw toAppError(err) ?? new AppError(ErrorCode.MalformedMultipart, `the multipart body cannot be read: ${(err as Error).message}`);
  }
  return parts;
}

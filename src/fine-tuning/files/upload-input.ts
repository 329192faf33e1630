import type { FastifyRequest } from 'fastify';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { readForm } from '../../common/http/multipart-form.js';

export interface Upload {
  filename: string;
  bytes: Buffer;
  /** The form's other fields (`purpose`, ...). */
  fields: Record<string, string>;
}

/** OpenAI's upload form: one `file` part and a `purpose` field, in either order. */
export async function readUpload(request: FastifyRequest): Promise<Upload> {
  if (!request.isMultipart())
    throw new AppError(
      ErrorCode.UnsupportedMediaType,
      'upload the dataset as multipart/form-data with a "file" part and purpose=fine-tune',
    );
  let file: { filename: string; bytes: Buffer } | undefined;
  const fields: Record<string, string> = {};
  for (const part of await readForm(request)) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file')
        throw new AppError(ErrorCode.ValidationFailed, `unexpected file part "${part.fieldname}"; the dataset goes in the "file" part`);
      if (file) throw new AppError(ErrorCode.ValidationFailed, 'send one file per upload');
      // The name is stored as text, which cannot hold NUL; control characters have no place in it either.
      if (/[\u0000-\u001f\u007f]/.test(part.filename))
        throw new AppError(ErrorCode.ValidationFailed, 'the file name must not contain control characters', [
          { field: 'file', problems: ['control characters in the file name'] },
        ]);
      file = { filename: part.filename || 'dataset.jsonl', bytes: part.bytes };
    } else {
      fields[part.fieldname] = part.value;
    }
  }
  if (!file) throw new AppError(ErrorCode.EmptyBody, 'the form has no "file" part');
  return { ...file, fields };
}

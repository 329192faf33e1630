import { applyDecorators, StreamableFile } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Download } from './stored-content.js';

/** The conditional and ranged requests every stored-content download answers (ETag, resume). */
export function ApiDownloadConditions(): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'if-none-match',
      required: false,
      description: 'An ETag from an earlier download: 304 with no body when it still matches.',
    }),
    ApiHeader({
      name: 'range',
      required: false,
      description: 'One byte range (`bytes=1000-`, `bytes=0-499`, `bytes=-500`): 206 with `content-range`, to resume a download.',
    }),
    ApiHeader({ name: 'if-range', required: false, description: 'The ETag the range belongs to; another version gets the whole value.' }),
    ApiResponse({ status: 206, description: 'The byte range asked for, with `content-range`.' }),
    ApiResponse({ status: 304, description: 'Not modified: `If-None-Match` names the current ETag.' }),
  );
}

/** Status and headers on the reply; the body streamed, or none for a 304. */
export function sendDownload(reply: FastifyReply, download: Download): StreamableFile | undefined {
  reply.status(download.status).headers(download.headers);
  return download.status === 304 ? undefined : new StreamableFile(download.content);
}

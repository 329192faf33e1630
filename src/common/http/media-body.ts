import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { FORM_LIMITS } from './multipart-form.js';

/**
 * Media reaches the task routes three ways: multipart uploads, a raw body typed image/* or
 * audio/*, or JSON with base64. Raw bodies stay Buffers (bounded by the body limit).
 */
export async function installMediaParsers(fastify: FastifyInstance, bodyLimitBytes: number): Promise<void> {
  fastify.addContentTypeParser(/^(image|audio|video)\/[\w.+-]+$/, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  await fastify.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: bodyLimitBytes, ...FORM_LIMITS },
  });
}

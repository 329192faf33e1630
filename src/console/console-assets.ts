import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { renderError } from '../common/errors/all-exceptions.filter.js';
import { ErrorCode } from '../common/errors/error-code.js';

/** Where `npm run build` writes the console's bundle (scripts/build-console.mjs): dist/console, beside dist/src. */
export const CONSOLE_BUNDLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

interface Asset {
  type: string;
  body: Buffer;
}

/** The bundle's files, read once: a few hundred kilobytes, served from memory like Swagger UI's. */
function readBundle(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return assets;
}

/**
 * `GET /console` (the page) and `GET /console/<file>` (its script and styles). Plain Fastify routes
 * like Swagger UI's at /docs: public, outside the OpenAPI document, under the same CSP (every
 * script and style comes from 'self'). The page asks for the API key itself and sends it to the API only.
 */
export function installConsole(fastify: FastifyInstance, dir: string = CONSOLE_BUNDLE_DIR): void {
  const assets = readBundle(dir);
  const send = (name: string, request: FastifyRequest, reply: FastifyReply) => {
    const asset = assets.get(name);
    if (!asset) {
      const message =
        assets.size === 0 ? 'The console was not built: run `npm run build`' : `The console has no file "${name.slice(0, 100)}"`;
      const error = new AppError(ErrorCode.NotFound, message);
      return reply.code(error.status).send(renderError(error, request));
    }
    // Names are fixed (app.js, app.css), so a browser revalidates rather than keep an old bundle.
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  };
  fastify.get('/console', (request, reply) => send('index.html', request, reply));
  // `/console/` is the page too (its links are absolute, so either address works).
  fastify.get<{ Params: { file: string } }>('/console/:file', (request, reply) =>
    send(request.params.file || 'index.html', request, reply),
  );
}

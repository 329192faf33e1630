import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { JsonOffload } from '../common/http/strict-json.js';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { PreparsedInferBody } from './json-body.js';
import { JsonBodyPool } from './json-body-pool.js';

/** Fastify's route patterns of the infer operation (OipController). */
const INFER_ROUTES = new Set(['/v2/models/:model/infer', '/v2/models/:model/versions/:version/infer']);

/**
 * Large infer JSON bodies are parsed, and their tensors decoded, in worker threads: 64 clients
 * sending 1.4 MB FP32 tensors as JSON kept the HTTP thread parsing and put /health/live at 1 s.
 */
@Injectable()
export class OipJsonBodies implements JsonOffload, OnModuleDestroy {
  readonly pool: JsonBodyPool;
  private readonly minBytes: number;

  constructor(@InjectConfig() config: AppConfig) {
    this.pool = new JsonBodyPool({ workers: config.media.oipJsonWorkers, maxQueue: config.media.oipJsonQueue });
    this.minBytes = config.media.oipJsonOffThreadBytes;
  }

  wants(route: string | undefined, bytes: number): boolean {
    return bytes > 0 && bytes >= this.minBytes && route !== undefined && INFER_ROUTES.has(route);
  }

  /** The same errors, with the same messages, as the inline parser. */
  async parse(body: Buffer): Promise<unknown> {
    const reply = await this.pool.parse(body);
    if (reply.kind === 'invalid-utf8') throw new AppError(ErrorCode.InvalidUtf8, 'Body is not valid UTF-8');
    if (reply.kind === 'malformed') throw new AppError(ErrorCode.MalformedJson, 'Body is not valid JSON');
    return new PreparsedInferBody(reply.value, reply.decoded);
  }

  onModuleDestroy(): Promise<void> {
    return this.pool.close();
  }
}

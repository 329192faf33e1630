import type { Type } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { LogController } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { AppModule } from './app.module.js';
import { installApiKeyHook } from './auth/api-key.hook.js';
import { markUndeclaredRoutes } from './auth/undeclared-routes.js';
import { installConsole } from './console/console-assets.js';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter.js';
import { answerClientError, answerFrameworkError, MAX_PATH_PARAM_LENGTH } from './common/http/framework-errors.js';
import { installRequestHooks, requestIdFor } from './http-hooks.js';
import { installSecurityHeaders } from './common/http/security-headers.js';
import { installIdleTimeoutPolicy, timeoutServerOptions } from './common/http/timeouts.js';
import { installMediaParsers } from './common/http/media-body.js';
import { installStrictJsonParser } from './common/http/strict-json.js';
import { createRootLogger, NestPinoLogger } from './common/logging/logger.js';
import { buildOpenApiDocument } from './common/openapi/openapi.js';
import type { AppConfig } from './config/app-config.js';
import { LifecycleService } from './lifecycle/lifecycle.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { OipJsonBodies } from './oip/oip-json-bodies.js';

export interface CreateAppOptions {
  /** Extra modules mounted beside the app's own (test fixtures). */
  extraModules?: Type[];
  logger?: PinoLogger;
  /** Build the module graph without instantiating providers: enough to generate the OpenAPI document. */
  preview?: boolean;
}

/** Builds the whole application; main.ts and every end-to-end test go through here. */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const logger = options.logger ?? createRootLogger(config.log.level);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // One access-log line per request is written by installRequestHooks instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: config.http.bodyLimitBytes,
    // Fastify accepts a hop count at run time though its types leave it out.
    trustProxy: config.http.trustProxy as boolean | string[],
    genReqId: requestIdFor,
    requestIdHeader: false,
    // After the drain's grace period, whatever is still open is cut so the process can exit.
    forceCloseConnections: true,
    ...timeoutServerOptions(config.http.timeouts),
    // Requests refused by the router or by Node's parser get Lathe's coded body too.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, options.extraModules), adapter, {
    logger: new NestPinoLogger(logger),
    abortOnError: false,
    preview: options.preview,
    // Lathe registers its own JSON parser (strict UTF-8) in configureApp.
    bodyParser: false,
  });
  await configureApp(app, config, { preview: options.preview });
  return app;
}

export async function configureApp(
  app: NestFastifyApplication,
  config: AppConfig,
  { preview = false }: { preview?: boolean } = {},
): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  installIdleTimeoutPolicy(fastify.server);
  if (!preview) installRequestHooks(fastify, app.get(LifecycleService), app.get(MetricsService));
  // After the request id hook, so a 401 carries the id; before any body is read.
  installApiKeyHook(fastify, config.auth.keys);
  installStrictJsonParser(fastify, preview ? undefined : app.get(OipJsonBodies));
  await installMediaParsers(fastify, config.http.bodyLimitBytes);
  installSecurityHeaders(fastify);
  if (config.http.corsOrigins !== false) app.enableCors({ origin: config.http.corsOrigins, exposedHeaders: ['x-request-id'] });
  app.useGlobalFilters(new AllExceptionsFilter());
  // Before app.init() registers the routes: their route config is read then.
  markUndeclaredRoutes(app.get(ModulesContainer));
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Lathe API',
  });
  installConsole(fastify);
}

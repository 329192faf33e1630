import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type CreateAppOptions, createApp } from './app.setup.js';
import type { AppConfig } from './config/app-config.js';
import { LifecycleService } from './lifecycle/lifecycle.service.js';
import { installProcessErrorPolicy } from './lifecycle/process-errors.js';

/**
 * Starts the app and owns its shutdown. On SIGTERM or SIGINT: readiness turns 503 at once; the
 * server goes on accepting for the shutdown delay (a load balancer that has not seen the 503 yet
 * may still send requests, and a closed listener would drop the ones already queued on it); then
 * in-flight requests get up to the grace period, then the server stops accepting and cuts what
 * is left, the database and the embedded PostgreSQL close, and the process exits 0.
 * A second signal skips the wait. An error nothing caught ends the process unless it is a database
 * fault (see handleProcessError).
 */
export async function serve(config: AppConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  // Before the app boots: its background loops start during boot. Nest's Logger resolves the app's
  // JSON logger at each call, so lines logged later go through it.
  installProcessErrorPolicy();
  const app = await createApp(config, options);
  const logger = new Logger('Lifecycle');
  const lifecycle = app.get(LifecycleService);
  let skipWait: (() => void) | undefined;
  let stopping = false;

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: closing without waiting for in-flight requests`);
      skipWait?.();
      return;
    }
    stopping = true;
    const { shutdownDelayMs: delayMs, shutdownGraceMs: graceMs } = config.lifecycle;
    const delay = delayMs > 0 ? `, accepting for ${delayMs} ms first` : '';
    logger.log(`${signal}: draining ${lifecycle.requestsInFlight} in-flight request(s), grace ${graceMs} ms${delay}`);
    const skipped = new Promise<boolean>((resolve) => (skipWait = () => resolve(false)));
    await lifecycle.beginDrain();
    if (delayMs > 0) await Promise.race([new Promise((resolve) => setTimeout(resolve, delayMs)), skipped]);
    const idle = await Promise.race([lifecycle.waitForIdle(graceMs), skipped]);
    if (!idle) logger.warn(`Closing with ${lifecycle.requestsInFlight} request(s) still in flight`);
    try {
      await app.close();
      logger.log('Stopped');
      process.exitCode = 0;
    } catch (err) {
      logger.error('Shutdown failed', (err as Error).stack);
      process.exitCode = 1;
    }
    // Anything still holding the loop (a stuck socket, a timer) must not keep a stopped server alive.
    setTimeout(() => process.exit(), 1_000).unref();
  };
  process.on('SIGTERM', (s) => void stop(s));
  process.on('SIGINT', (s) => void stop(s));

  await app.listen({ port: config.http.port, host: config.http.host });
  logger.log(`Lathe listening on http://${config.http.host}:${config.http.port} (docs at /docs)`);
  return app;
}

import 'reflect-metadata';
import { ConfigError, disableOnnxRuntimeTelemetry, loadConfigFromEnv } from './config/app-config.js';
import { serve } from './serve.js';

async function main(): Promise<void> {
  disableOnnxRuntimeTelemetry();
  let config;
  try {
    config = loadConfigFromEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lathe: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  await serve(config);
}

main().catch((err: unknown) => {
  process.stderr.write(`lathe: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

import 'reflect-metadata';
import { loadConfigFromEnv } from '../../src/config/app-config.js';
import { serve } from '../../src/serve.js';
import { FixturesModule } from './fixtures.module.js';

// main.ts with the test fixtures mounted, so a test can signal a real process mid-request.
await serve(loadConfigFromEnv(), { extraModules: [FixturesModule] });

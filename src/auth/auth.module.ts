import { Logger, Module, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { AuthController } from './auth.controller.js';

@Module({ controllers: [AuthController] })
export class AuthModule implements OnModuleInit {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  onModuleInit(): void {
    const logger = new Logger('Auth');
    const keys = this.config.auth.keys;
    if (keys.length === 0) {
      logger.warn(
        'NO API KEYS CONFIGURED: every route is open to anyone who can reach this port. ' +
          'Set LATHE_API_KEYS (see README) before exposing the service.',
      );
    } else {
      logger.log(`API keys: ${keys.map((k) => `${k.name} [${[...k.scopes].join('+')}]`).join(', ')}`);
    }
  }
}

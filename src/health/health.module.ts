import { Global, Module, type OnModuleInit } from '@nestjs/common';
import { DatabasePing } from '../database/database-ping.js';
import { HealthController } from './health.controller.js';
import { ReadinessService } from './readiness.service.js';

@Global()
@Module({ controllers: [HealthController], providers: [ReadinessService], exports: [ReadinessService] })
export class HealthModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessService,
    private readonly database: DatabasePing,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', () => this.database.ping());
  }
}

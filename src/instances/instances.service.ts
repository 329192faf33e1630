import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { LATHE_VERSION } from '../common/version.js';
import { LifecycleService } from '../lifecycle/lifecycle.service.js';
import type { InstanceListDto } from './dto/instance.dto.js';
import { InstancesRepository } from './instances.repository.js';

const LIST_LIMIT = 100;

/** Registers this replica in the shared database and keeps its heartbeat and state current. */
@Injectable()
export class InstancesService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly id = randomUUID();
  private readonly logger = new Logger('Instances');
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly instances: InstancesRepository,
    private readonly lifecycle: LifecycleService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.instances.register({ id: this.id, hostname: hostname(), pid: process.pid, version: LATHE_VERSION });
    this.heartbeat = setInterval(() => {
      this.instances.touch(this.id).catch((err) => this.logger.warn(`Heartbeat failed: ${(err as Error).message}`));
    }, this.config.lifecycle.heartbeatMs).unref();
    this.lifecycle.onDrain(() => this.instances.markState(this.id, 'draining'));
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.instances
      .markState(this.id, 'stopped')
      .catch((err) => this.logger.warn(`Could not mark instance stopped: ${(err as Error).message}`));
  }

  async list(): Promise<InstanceListDto> {
    const rows = await this.instances.findRecent(LIST_LIMIT);
    return {
      object: 'list',
      data: rows.map((r) => ({
        id: r.id,
        hostname: r.hostname,
        pid: r.pid,
        version: r.version,
        state: r.state,
        startedAt: r.startedAt.toISOString(),
        lastSeenAt: r.lastSeenAt.toISOString(),
        stoppedAt: r.stoppedAt?.toISOString() ?? null,
        self: r.id === this.id,
      })),
    };
  }
}

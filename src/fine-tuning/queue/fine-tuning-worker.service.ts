import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { LifecycleService } from '../../lifecycle/lifecycle.service.js';
import { JobRunner } from '../runner/job-runner.service.js';
import { JobQueue } from './job-queue.service.js';
import { LeaseSweeper } from './lease-sweeper.service.js';

/**
 * This replica's part in fine-tuning: at boot, start the queue, recover jobs a dead replica left
 * behind, and take up to LATHE_TRAINING_RUNNERS jobs at a time; when draining, take no more; at shutdown, stop the run in
 * progress at a step boundary and hand its job back to the queue (another replica, or this one
 * after a restart, resumes it from its last checkpoint).
 */
@Injectable()
export class FineTuningWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly queue: JobQueue,
    private readonly runner: JobRunner,
    private readonly sweeper: LeaseSweeper,
    private readonly lifecycle: LifecycleService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.start();
    await this.sweeper.sweep();
    this.sweeper.start();
    await this.queue.work((jobId) => this.runner.run(jobId), this.config.fineTuning.runners);
    this.lifecycle.onDrain(() => this.queue.stopWorking());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sweeper.stop();
    await this.queue.stopWorking();
    await this.runner.shutdown();
    await this.queue.stop();
  }
}

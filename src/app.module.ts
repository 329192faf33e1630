import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { FineTuningModule } from './fine-tuning/fine-tuning.module.js';
import { GenerationModule } from './generation/generation.module.js';
import { HealthModule } from './health/health.module.js';
import { InstancesModule } from './instances/instances.module.js';
import { LifecycleModule } from './lifecycle/lifecycle.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NlpModule } from './nlp/nlp.module.js';
import { OipModule } from './oip/oip.module.js';
import { SpeechModule } from './speech/speech.module.js';
import { VisionModule } from './vision/vision.module.js';

@Module({})
export class AppModule {
  /** `extra` lets tests mount fixture controllers on the real app. */
  static forRoot(config: AppConfig, extra: Type[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LifecycleModule,
        DatabaseModule,
        MetricsModule,
        HealthModule,
        AuthModule,
        InstancesModule,
        OipModule,
        VisionModule,
        SpeechModule,
        NlpModule,
        GenerationModule,
        FineTuningModule,
        ...extra,
      ],
    };
  }
}

import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module.js';
import { ClassifyService } from './classify.service.js';
import { DetectService } from './detect.service.js';
import { OcrService } from './ocr.service.js';
import { VisionController } from './vision.controller.js';

@Module({
  imports: [TasksModule],
  controllers: [VisionController],
  providers: [ClassifyService, DetectService, OcrService],
  exports: [ClassifyService],
})
export class VisionModule {}

import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module.js';
import { SpeechController } from './speech.controller.js';
import { SpeechService } from './speech.service.js';

@Module({ imports: [TasksModule], controllers: [SpeechController], providers: [SpeechService] })
export class SpeechModule {}

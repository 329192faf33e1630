import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module.js';
import { AudioDecoder } from './audio-decoder.service.js';
import { AudioController, SpeechController } from './speech.controller.js';
import { SpeechService } from './speech.service.js';
import { TranscriptionService } from './transcription.service.js';

@Module({
  imports: [TasksModule],
  controllers: [SpeechController, AudioController],
  providers: [AudioDecoder, SpeechService, TranscriptionService],
})
export class SpeechModule {}

import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { TasksModule } from '../tasks/tasks.module.js';
import { AudioDecoder } from './audio-decoder.service.js';
import { AudioController, SpeechController } from './speech.controller.js';
import { SpeechService } from './speech.service.js';
import { SynthesisService } from './synthesis.service.js';
import { TranscriptionService } from './transcription.service.js';
import { SpeechWorkers } from './speech-workers.js';

@Module({
  imports: [TasksModule, ModelsModule],
  controllers: [SpeechController, AudioController],
  providers: [AudioDecoder, SpeechService, TranscriptionService, SynthesisService, SpeechWorkers],
})
export class SpeechModule {}

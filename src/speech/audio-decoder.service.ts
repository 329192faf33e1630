import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { Limiter } from '../tasks/limiter.js';
import { decodeAudio, type DecodedAudio } from './audio-decode.js';

/** Audio decoding for every speech route, bounded as a whole (ffmpeg processes, WAV workers). */
@Injectable()
export class AudioDecoder {
  private readonly limiter: Limiter;

  constructor(@InjectConfig() private readonly config: AppConfig) {
    this.limiter = new Limiter('audio decoding', config.media.audioDecoders, config.media.audioDecoders);
  }

  /** The request body is not read again after this, so a WAV decoding worker may take its buffer. */
  decode(bytes: Buffer, sampleRate: number): Promise<DecodedAudio> {
    const limits = { maxSeconds: this.config.media.maxAudioSeconds, maxBytes: this.config.http.bodyLimitBytes };
    return this.limiter.run(() => decodeAudio(bytes, sampleRate, limits, { transferBody: true }));
  }
}

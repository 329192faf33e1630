import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { Limiter } from '../tasks/limiter.js';
import { decodeAudio, type DecodedAudio } from './audio-decode.js';
import { checkInputCount } from '../tasks/input-count.js';

/** Audio decoding for every speech route, bounded as a whole (ffmpeg processes, WAV workers). */
@Injectable()
export class AudioDecoder {
  private readonly limiter: Limiter;

  constructor(@InjectConfig() private readonly config: AppConfig) {
    this.limiter = new Limiter('audio decoding', config.media.audioDecoders, config.media.audioDecoders);
  }

  /** Decodes one request may ask for at once: as many run as LATHE_AUDIO_DECODERS, as many again wait, more get 429. */
  get capacity(): number {
    return this.config.media.audioDecoders * 2;
  }

  /** More audio files than `capacity` in one request could never all be decoded: 413 before any is. */
  checkCount(count: number): void {
    const n = this.config.media.audioDecoders;
    checkInputCount(count, this.capacity, 'audio files', `LATHE_AUDIO_DECODERS=${n}: ${n} decode at once and ${n} more may wait`);
  }

  /** The request body is not read again after this, so a WAV decoding worker may take its buffer. */
  decode(bytes: Buffer, sampleRate: number): Promise<DecodedAudio> {
    const limits = { maxSeconds: this.config.media.maxAudioSeconds, maxBytes: this.config.http.bodyLimitBytes };
    return this.limiter.run(() => decodeAudio(bytes, sampleRate, limits, { transferBody: true }));
  }
}

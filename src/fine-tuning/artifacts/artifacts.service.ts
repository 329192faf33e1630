import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { answerDownload, type Download, type DownloadConditions } from '../stored-content.js';
import { ArtifactsRepository, ONNX_MEDIA_TYPE } from './artifacts.repository.js';

@Injectable()
export class ArtifactsService {
  constructor(private readonly artifacts: ArtifactsRepository) {}

  /**
   * The bytes (or the range asked for) as a stream read slice by slice while the client takes
   * them, and the headers that describe them: type, size, sha256 (hex, RFC 3230 `digest`, and the
   * ETag); 304 when `If-None-Match` names the ETag.
   */
  async download(id: string, conditions: DownloadConditions): Promise<Download> {
    const row = await this.artifacts.find(id);
    if (!row) throw new AppError(ErrorCode.NotFound, `no artifact with id "${id}"`);
    const headers = {
      'content-type': row.mediaType,
      digest: `sha-256=${Buffer.from(row.sha256, 'hex').toString('base64')}`,
      'content-disposition': `attachment; filename="${row.id}${row.mediaType === ONNX_MEDIA_TYPE ? '.onnx' : '.bin'}"`,
    };
    return answerDownload(
      { bytes: row.bytes, sha256: row.sha256, headers, open: (start, end) => this.artifacts.stream(row, start, end) },
      conditions,
    );
  }
}

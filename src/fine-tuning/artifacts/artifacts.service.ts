import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ArtifactsRepository, ONNX_MEDIA_TYPE } from './artifacts.repository.js';

@Injectable()
export class ArtifactsService {
  constructor(private readonly artifacts: ArtifactsRepository) {}

  /** The bytes and the headers that describe them: type, size and sha256 (hex, and RFC 3230 `digest`). */
  async download(id: string): Promise<{ headers: Record<string, string>; content: Buffer }> {
    const found = await this.artifacts.content(id);
    if (!found) throw new AppError(ErrorCode.NotFound, `no artifact with id "${id}"`);
    const { row, content } = found;
    return {
      content,
      headers: {
        'content-type': row.mediaType,
        'content-length': String(row.bytes),
        'x-content-sha256': row.sha256,
        digest: `sha-256=${Buffer.from(row.sha256, 'hex').toString('base64')}`,
        'content-disposition': `attachment; filename="${row.id}${row.mediaType === ONNX_MEDIA_TYPE ? '.onnx' : '.bin'}"`,
      },
    };
  }
}

import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { type Download, etag, matchesEtag } from '../stored-content.js';
import { ArtifactsRepository, ONNX_MEDIA_TYPE } from './artifacts.repository.js';

@Injectable()
export class ArtifactsService {
  constructor(private readonly artifacts: ArtifactsRepository) {}

  /**
   * The bytes as a stream read slice by slice while the client takes them, and the headers that
   * describe them: type, size, sha256 (hex, RFC 3230 `digest`, and the ETag); 304 when
   * `If-None-Match` names the ETag.
   */
  async download(id: string, ifNoneMatch?: string): Promise<Download> {
    const row = await this.artifacts.find(id);
    if (!row) throw new AppError(ErrorCode.NotFound, `no artifact with id "${id}"`);
    if (matchesEtag(ifNoneMatch, etag(row.sha256))) return { status: 304, headers: { etag: etag(row.sha256) } };
    return {
      status: 200,
      content: this.artifacts.stream(row),
      headers: {
        'content-type': row.mediaType,
        'content-length': String(row.bytes),
        'x-content-sha256': row.sha256,
        digest: `sha-256=${Buffer.from(row.sha256, 'hex').toString('base64')}`,
        etag: etag(row.sha256),
        'content-disposition': `attachment; filename="${row.id}${row.mediaType === ONNX_MEDIA_TYPE ? '.onnx' : '.bin'}"`,
      },
    };
  }
}

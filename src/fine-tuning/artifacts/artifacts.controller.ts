import { Controller, Get, Headers, Param, Res, StreamableFile } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiEndpoint } from '../../common/openapi/api-endpoint.decorator.js';
import type { DownloadConditions } from '../stored-content.js';
import { ArtifactsService } from './artifacts.service.js';
import { IdParam } from '../id-param.pipe.js';

@ApiTags('Fine-tuning')
@Controller('v1/artifacts')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactsService) {}

  @Get(':id')
  @ApiProduces('application/onnx', 'application/vnd.lathe.trainer-state')
  @ApiEndpoint({
    summary: 'Download an artifact: a fine-tuned head (ONNX) or a checkpoint (trainer state)',
    description:
      'The bytes as stored, streamed, with `x-content-sha256` (hex), `digest` (RFC 3230, `sha-256=<base64>`) and `etag` (the quoted sha256) to verify them, and `content-length`.',
    auth: 'train',
    errors: [ErrorCode.NotFound],
  })
  @ApiOkResponse({ description: 'The artifact bytes.' })
  @ApiHeader({
    name: 'if-none-match',
    required: false,
    description: 'An ETag from an earlier download: 304 with no body when it still matches.',
  })
  @ApiHeader({
    name: 'range',
    required: false,
    description: 'One byte range (`bytes=1000-`, `bytes=0-499`, `bytes=-500`): 206 with `content-range`, to resume a download.',
  })
  @ApiHeader({ name: 'if-range', required: false, description: 'The ETag the range belongs to; another version gets the whole value.' })
  @ApiResponse({ status: 206, description: 'The byte range asked for, with `content-range`.' })
  @ApiResponse({ status: 304, description: 'Not modified: `If-None-Match` names the current ETag.' })
  async downloadArtifact(
    @Param('id', IdParam.of('artifact')) id: string,
    @Headers() conditions: DownloadConditions,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const download = await this.artifacts.download(id, conditions);
    reply.status(download.status).headers(download.headers);
    return download.status === 304 ? undefined : new StreamableFile(download.content);
  }
}

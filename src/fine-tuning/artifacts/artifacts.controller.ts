import { Controller, Get, Headers, Param, Res, StreamableFile } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiEndpoint } from '../../common/openapi/api-endpoint.decorator.js';
import { ArtifactsService } from './artifacts.service.js';

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
  @ApiHeader({ name: 'if-none-match', required: false, description: 'An ETag from an earlier download: 304 with no body when it still matches.' })
  @ApiResponse({ status: 304, description: 'Not modified: `If-None-Match` names the current ETag.' })
  async downloadArtifact(@Param('id') id: string, @Headers('if-none-match') ifNoneMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    const download = await this.artifacts.download(id, ifNoneMatch);
    reply.status(download.status).headers(download.headers);
    return download.status === 200 ? new StreamableFile(download.content) : undefined;
  }
}

import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiEndpoint } from '../../common/openapi/api-endpoint.decorator.js';
import { ApiDownloadConditions, sendDownload } from '../download-response.js';
import type { DownloadConditions } from '../stored-content.js';
import { ArtifactsService } from './artifacts.service.js';
import { IdParam, idParams } from '../id-param.pipe.js';

@ApiTags('Fine-tuning')
@Controller('v1/artifacts')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactsService) {}

  @Get(':id')
  @ApiProduces('application/onnx', 'application/vnd.lathe.trainer-state')
  @ApiEndpoint({
    params: idParams('artifact', 'artifact-0a1b2c3d4e5f6a7b8c9d0e1f'),
    summary: 'Download an artifact: a fine-tuned head (ONNX) or a checkpoint (trainer state)',
    description:
      'The bytes as stored, streamed, with `x-content-sha256` (hex), `digest` (RFC 3230, `sha-256=<base64>`) and `etag` (the quoted sha256) to verify them, and `content-length`.',
    auth: 'train',
    errors: [ErrorCode.NotFound],
    ok: { description: 'The artifact bytes.' },
  })
  @ApiDownloadConditions()
  async downloadArtifact(
    @Param('id', IdParam.of('artifact')) id: string,
    @Headers() conditions: DownloadConditions,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const download = await this.artifacts.download(id, conditions);
    return sendDownload(reply, download);
  }
}

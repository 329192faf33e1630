import { Controller, Get, Res } from '@nestjs/common';
import { ApiExtraModels, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { CheckResultDto, LivenessDto, ReadinessDto } from './dto/health.dto.js';
import { ReadinessService } from './readiness.service.js';

@ApiTags('health')
@ApiExtraModels(CheckResultDto)
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('live')
  @ApiEndpoint({ summary: 'Liveness: the process is up and its event loop answers', auth: 'public', ok: { type: LivenessDto } })
  live(): LivenessDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiEndpoint({ summary: 'Readiness: the database answers and the instance is not draining', auth: 'public', ok: { type: ReadinessDto } })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'Not ready, or draining after SIGTERM.' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadinessDto> {
    const report = await this.readiness.report();
    reply.status(report.status === 'ready' ? 200 : 503);
    return report;
  }
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
}

export class CheckResultDto {
  @ApiProperty({ enum: ['up', 'down'] })
  status: 'up' | 'down';

  @ApiPropertyOptional()
  error?: string;
}

export class ReadinessDto {
  @ApiProperty({ enum: ['ready', 'not_ready'] })
  status: 'ready' | 'not_ready';

  @ApiProperty({ description: 'True once SIGTERM was received: the instance is finishing in-flight requests.' })
  draining: boolean;

  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/CheckResultDto' } })
  checks: Record<string, CheckResultDto>;
}

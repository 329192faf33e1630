import { ApiProperty } from '@nestjs/swagger';

export class InstanceDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  hostname: string;

  @ApiProperty()
  pid: number;

  @ApiProperty({ example: '0.1.0' })
  version: string;

  @ApiProperty({ enum: ['running', 'draining', 'stopped'] })
  state: 'running' | 'draining' | 'stopped';

  @ApiProperty({ format: 'date-time' })
  startedAt: string;

  @ApiProperty({ format: 'date-time' })
  lastSeenAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  stoppedAt: string | null;

  @ApiProperty({ description: 'True for the instance that answered this request.' })
  self: boolean;
}

export class InstanceListDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [InstanceDto] })
  data: InstanceDto[];
}

import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { InstanceListDto } from './dto/instance.dto.js';
import { InstancesService } from './instances.service.js';

@ApiTags('admin')
@Controller('v1/instances')
export class InstancesController {
  constructor(private readonly instances: InstancesService) {}

  @Get()
  @ApiEndpoint({
    summary: 'Replicas sharing this database, most recently seen first',
    description:
      'Each instance registers at boot, beats every LATHE_INSTANCE_HEARTBEAT_MS and marks itself draining and stopped on SIGTERM.',
    auth: 'admin',
    ok: { type: InstanceListDto },
  })
  listInstances(): Promise<InstanceListDto> {
    return this.instances.list();
  }
}

import { Module } from '@nestjs/common';
import { InstancesController } from './instances.controller.js';
import { InstancesRepository } from './instances.repository.js';
import { InstancesService } from './instances.service.js';

@Module({ controllers: [InstancesController], providers: [InstancesRepository, InstancesService] })
export class InstancesModule {}

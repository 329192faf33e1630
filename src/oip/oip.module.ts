import { Module } from '@nestjs/common';
import { ModelsModule } from '../models/models.module.js';
import { OipController } from './oip.controller.js';
import { OipJsonBodies } from './oip-json-bodies.js';
import { OipService } from './oip.service.js';

@Module({ imports: [ModelsModule], controllers: [OipController], providers: [OipService, OipJsonBodies] })
export class OipModule {}

import { Controller, Get, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { SCOPES } from '../config/api-keys.js';
import type { AuthenticatedRequest } from './api-key.hook.js';
import { WhoAmIDto } from './dto/whoami.dto.js';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  @Get('whoami')
  @ApiEndpoint({ summary: 'The API key this request was made with, and its scopes', auth: 'any', ok: { type: WhoAmIDto } })
  whoami(@Req() request: AuthenticatedRequest): WhoAmIDto {
    const key = request.apiKey;
    if (!key) return { name: null, scopes: [...SCOPES], open: true };
    return { name: key.name, scopes: SCOPES.filter((s) => key.scopes.has(s)), open: false };
  }
}

import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { InjectConfig } from '../config/config.module.js';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { type ApiKey, type Scope, findApiKey, hasScope } from './api-keys.js';
import { PUBLIC_ROUTE, REQUIRED_SCOPE } from './scopes.decorator.js';

export type AuthenticatedRequest = FastifyRequest & { apiKey?: ApiKey };

/**
 * Every route needs a valid `Authorization: Bearer <key>` unless marked @Public; a route marked
 * @RequireScope also needs that scope. With no key configured the service is open.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const keys = this.config.auth.keys;
    if (keys.length === 0) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      throw new AppError(ErrorCode.MissingApiKey, 'Send an API key as "Authorization: Bearer <key>"');
    }
    const key = findApiKey(keys, token);
    if (!key) throw new AppError(ErrorCode.InvalidApiKey, 'The API key is not valid');
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    if (scope && !hasScope(key, scope)) {
      throw new AppError(ErrorCode.InsufficientScope, `The API key "${key.name}" lacks the "${scope}" scope`, {
        required: scope,
        granted: [...key.scopes].sort(),
      });
    }
    request.apiKey = key;
    return true;
  }
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

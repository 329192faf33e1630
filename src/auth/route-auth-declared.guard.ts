import { type CanActivate, type ExecutionContext, Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { routeAuthOf } from './api-key.hook.js';

/**
 * Authentication itself happens in the onRequest hook (api-key.hook.ts), which only knows the
 * routes that declare their rule (@ApiEndpoint's `auth`). This guard keeps a controller route
 * that forgot to declare one closed instead of silently open.
 */
@Injectable()
export class RouteAuthDeclaredGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (routeAuthOf(request) !== undefined) return true;
    this.logger.error(`${request.method} ${request.routeOptions.url ?? request.url} declares no auth rule (@ApiEndpoint auth)`);
    throw new AppError(ErrorCode.Internal, 'Internal server error');
  }
}

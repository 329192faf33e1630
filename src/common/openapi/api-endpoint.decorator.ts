import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOperation, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { RequireAuth, type RouteAuth } from '../http/scopes.decorator.js';
import { ERROR_CODES, ErrorCode } from '../errors/error-code.js';
import { ErrorBodyDto } from './error-body.dto.js';

interface ApiEndpointOptions {
  summary: string;
  description?: string;
  /** `public` needs no key; `any` needs any valid key; a scope needs that scope. */
  auth: RouteAuth;
  /** Error codes this route can answer with, beyond those every route can (auth, 500, 503 when the database does not answer). */
  errors?: ErrorCode[];
}

/** Every errors a route may answer with, documented from the one ErrorCode table. */
export function ApiEndpoint(options: ApiEndpointOptions): MethodDecorator {
  const codes = new Set(options.errors ?? []);
  codes.add(ErrorCode.Internal);
  const decorators = [ApiOperation({ summary: options.summary, description: options.description }), RequireAuth(options.auth)];
  if (options.auth !== 'public') {
    decorators.push(ApiBearerAuth());
    // Keyed routes reach the database (files, jobs, artifacts, instances, fine-tuned models) or may:
    // a stalled or unreachable database answers 503 UNAVAILABLE (see toAppError).
    codes.add(ErrorCode.MissingApiKey).add(ErrorCode.InvalidApiKey).add(ErrorCode.Unavailable);
    if (options.auth !== 'any') codes.add(ErrorCode.InsufficientScope);
  }
  decorators.push(ApiExtraModels(ErrorBodyDto), ...errorResponses([...codes]));
  return applyDecorators(...decorators);
}

function errorResponses(codes: ErrorCode[]): MethodDecorator[] {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return [...byStatus.entries()].map(([status, list]) =>
    ApiResponse({
      status,
      description: list
        .sort()
        .map((c) => `\`${c}\`: ${ERROR_CODES[c].description}`)
        .join(' '),
      content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBodyDto) } } },
    }),
  );
}

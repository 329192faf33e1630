import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOperation, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { DeclareRoute, type RouteAuth } from '../http/scopes.decorator.js';
import { ERROR_CODES, ErrorCode } from '../errors/error-code.js';
import { ErrorBodyDto } from './error-body.dto.js';
import { errorObject } from '../errors/all-exceptions.filter.js';
import { registerEndpoint, type RequestSchemas, type SuccessResponse } from './endpoint-registry.js';

export interface ApiEndpointOptions extends RequestSchemas {
  summary: string;
  description?: string;
  /** `public` needs no key; `any` needs any valid key; a scope needs that scope. */
  auth: RouteAuth;
  /** Error codes this route can answer with, beyond those every route can (auth, 500, 503 when the database does not answer). */
  errors?: ErrorCode[];
  /** The success answer: its status (200 unless said), schema and example. */
  ok?: SuccessResponse;
}

/**
 * The one declaration of a route: its auth rule, the zod schemas of its path, query and body (the
 * same objects its code parses with), its success answer and every error it may answer with. The
 * schemas become the operation's parameters and request body in the OpenAPI document
 * (see openapi.ts); the query schema also decides which query parameters the route's code sees
 * (declaredQuery, in the preHandler hook), so a parameter read in code is a parameter in the document.
 */
export function ApiEndpoint(options: ApiEndpointOptions): MethodDecorator {
  const codes = new Set(options.errors ?? []);
  codes.add(ErrorCode.Internal);
  const decorators = [
    ApiOperation({ summary: options.summary, description: options.description }),
    DeclareRoute({ auth: options.auth, query: options.query ?? null }),
  ];
  if (options.auth !== 'public') {
    decorators.push(ApiBearerAuth());
    // Keyed routes reach the database (files, jobs, artifacts, instances, fine-tuned models) or may:
    // a stalled or unreachable database answers 503 UNAVAILABLE (see toAppError).
    codes.add(ErrorCode.MissingApiKey).add(ErrorCode.InvalidApiKey).add(ErrorCode.Unavailable);
    if (options.auth !== 'any') codes.add(ErrorCode.InsufficientScope);
  }
  if (options.ok?.type) decorators.push(ApiResponse({ status: options.ok.status ?? 200, type: options.ok.type }));
  decorators.push(ApiExtraModels(ErrorBodyDto), ...errorResponses([...codes]));
  const register: MethodDecorator = (_target, key) => registerEndpoint(String(key), options);
  return applyDecorators(...decorators, register);
}

/** One response per status, with one example body per error code that status stands for. */
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
      content: {
        'application/json': {
          schema: { $ref: getSchemaPath(ErrorBodyDto) },
          examples: Object.fromEntries(list.map((code) => [code, { summary: ERROR_CODES[code].description, value: errorExample(code) }])),
        },
      },
    }),
  );
}

function errorExample(code: ErrorCode): unknown {
  const details =
    code === ErrorCode.ValidationFailed ? [{ field: 'limit', problems: ['Too big: expected number to be <=100'] }] : undefined;
  return { error: errorObject(code, ERROR_CODES[code].description, details), requestId: '0f9a6c1e-5b7d-4c1e-9a52-3e8d2f6b7a10' };
}

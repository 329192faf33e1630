import { Body, Controller, Get, Module, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { AppError } from '../../src/common/errors/app-error.js';
import { ApiEndpoint } from '../../src/common/openapi/api-endpoint.decorator.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';

const echoBody = z.object({ name: z.string(), count: z.number().int().min(1) }).strict();
const slowQuery = z.object({ ms: z.coerce.number().int().min(0).max(60_000) }).strict();

/** Parses with a route's declared schema; 400 VALIDATION_FAILED lists every field that failed. */
function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({
    field: i.path.join('.') || ((i as { keys?: string[] }).keys ?? []).join(','),
    problems: [i.message],
  }));
  throw new AppError(ErrorCode.ValidationFailed, 'Request validation failed', details);
}

/** Routes that exist only in tests, to reach the platform's error, auth and drain paths. */
@Controller('test')
class FixturesController {
  @Post('echo')
  @ApiEndpoint({ summary: 'echo', auth: 'manage', errors: [ErrorCode.ValidationFailed], body: echoBody })
  echo(@Body() body: unknown): z.infer<typeof echoBody> {
    return parse(echoBody, body);
  }

  @Get('boom')
  @ApiEndpoint({ summary: 'boom', auth: 'public' })
  boom(): never {
    throw new Error('secret internal detail: password=hunter2');
  }

  @Get('slow')
  @ApiEndpoint({ summary: 'slow', auth: 'public', query: slowQuery })
  async slow(@Query() query: unknown): Promise<{ sleptMs: number }> {
    const { ms } = parse(slowQuery, query);
    await new Promise((r) => setTimeout(r, ms));
    return { sleptMs: ms };
  }

  /** A route that forgot its @ApiEndpoint auth rule: it must stay closed, not open. */
  @Get('undeclared')
  undeclared(): { reached: true } {
    return { reached: true };
  }
}

@Module({ controllers: [FixturesController] })
export class FixturesModule {}

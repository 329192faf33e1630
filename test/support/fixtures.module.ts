import { Body, Controller, Get, Module, Post, Query } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Max, Min } from 'class-validator';
import { ApiEndpoint } from '../../src/common/openapi/api-endpoint.decorator.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';

class EchoDto {
  @IsString()
  name: string;

  @IsInt()
  @Min(1)
  count: number;
}

class SlowQuery {
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(60_000)
  ms: number;
}

/** Routes that exist only in tests, to reach the platform's error, auth and drain paths. */
@Controller('test')
class FixturesController {
  @Post('echo')
  @ApiEndpoint({ summary: 'echo', auth: 'manage', errors: [ErrorCode.ValidationFailed] })
  echo(@Body() body: EchoDto): EchoDto {
    return body;
  }

  @Get('boom')
  @ApiEndpoint({ summary: 'boom', auth: 'public' })
  boom(): never {
    throw new Error('secret internal detail: password=hunter2');
  }

  @Get('slow')
  @ApiEndpoint({ summary: 'slow', auth: 'public' })
  async slow(@Query() query: SlowQuery): Promise<{ sleptMs: number }> {
    await new Promise((r) => setTimeout(r, query.ms));
    return { sleptMs: query.ms };
  }

  /** A route that forgot its @ApiEndpoint auth rule: it must stay closed, not open. */
  @Get('undeclared')
  undeclared(): { reached: true } {
    return { reached: true };
  }
}

@Module({ controllers: [FixturesController] })
export class FixturesModule {}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorCode } from '../errors/error-code.js';

export class ErrorDetailDto {
  @ApiProperty({ enum: ErrorCode, enumName: 'ErrorCode' })
  code: ErrorCode;

  @ApiProperty({ example: 'Body is not valid JSON' })
  message: string;

  @ApiPropertyOptional({ description: 'Structured context, e.g. the fields that failed validation.' })
  details?: unknown;
}

export class ErrorBodyDto {
  @ApiProperty({ type: ErrorDetailDto })
  error: ErrorDetailDto;

  @ApiProperty({ description: 'The request id, also in the x-request-id header and every log line.' })
  requestId: string;
}

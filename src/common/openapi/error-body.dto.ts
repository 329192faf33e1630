import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorCode } from '../errors/error-code.js';

export class ErrorDetailDto {
  @ApiProperty({ enum: ErrorCode, enumName: 'ErrorCode' })
  code: ErrorCode;

  @ApiProperty({ example: 'Body is not valid JSON' })
  message: string;

  @ApiProperty({
    enum: ['invalid_request_error', 'authentication_error', 'permission_error', 'requests', 'server_error'],
    description:
      "OpenAI's error type, from the status: 401 authentication_error, 403 permission_error, 429 requests, 5xx server_error, other 4xx invalid_request_error.",
  })
  type: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: "OpenAI's `param`: the first field a validation failure names (as in `details`), else null.",
    example: null,
  })
  param: string | null;

  @ApiPropertyOptional({ description: 'Structured context, e.g. the fields that failed validation.' })
  details?: unknown;
}

export class ErrorBodyDto {
  @ApiProperty({ type: ErrorDetailDto })
  error: ErrorDetailDto;

  @ApiProperty({ description: 'The request id, also in the x-request-id header and every log line.' })
  requestId: string;
}

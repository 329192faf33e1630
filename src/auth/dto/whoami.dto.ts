import { ApiProperty } from '@nestjs/swagger';
import { SCOPES, type Scope } from '../../config/api-keys.js';

export class WhoAmIDto {
  @ApiProperty({ nullable: true, type: String, description: 'The key name from LATHE_API_KEYS; null when the service runs open.' })
  name: string | null;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes: Scope[];

  @ApiProperty({ description: 'True when no API key is configured and every route is open.' })
  open: boolean;
}

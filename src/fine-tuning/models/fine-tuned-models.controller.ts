import { Controller, Delete, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiEndpoint } from '../../common/openapi/api-endpoint.decorator.js';
import { ModelDeletionService } from './model-deletion.service.js';

const EXAMPLE_MODEL = 'ft:glove-100d:topics:ftjob-0a1b2c3d4e5f6a7b8c9d0e1f';

@ApiTags('Models')
@Controller('v1/models')
export class FineTunedModelsController {
  constructor(private readonly deletion: ModelDeletionService) {}

  @Delete(':model')
  @ApiEndpoint({
    params: z.object({ model: z.string().min(1).meta({ example: EXAMPLE_MODEL }) }),
    ok: { example: { id: EXAMPLE_MODEL, object: 'model', deleted: true } },
    summary: "Delete a fine-tuned model (OpenAI's shape): its head and row go, and every replica stops serving it and its checkpoints",
    auth: 'train',
    errors: [ErrorCode.ModelNotFound, ErrorCode.ModelNotDeletable],
  })
  deleteModel(@Param('model') model: string) {
    return this.deletion.delete(model);
  }
}

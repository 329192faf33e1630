import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { ModelRepository, type ModelVersion } from './model-repository.service.js';

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** Lathe: what the model does, its versions and whether the highest is loaded. */
  task: string | null;
  versions: string[];
  state: string;
}

/** OpenAI's model listing over the repository (folder, pulled and fine-tuned models alike). */
@ApiTags('Models')
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly repository: ModelRepository) {}

  @Get()
  @ApiEndpoint({ summary: "Every model in the repository (OpenAI's list shape, with Lathe's task, versions and state)", auth: 'infer',
    ok: { example: { object: 'list', data: [{ id: 'glove-100d', object: 'model', created: 1764300000, owned_by: 'lathe', task: 'feature-extraction', versions: ['1'], state: 'READY' }] } },
  })
  list(): { object: 'list'; data: ModelObject[] } {
    return { object: 'list', data: this.repository.names().map((name) => this.describe(name)) };
  }

  @Get(':model')
  @ApiEndpoint({ params: z.object({ model: z.string().min(1).meta({ example: 'glove-100d' }) }), ok: { example: { id: 'glove-100d', object: 'model', created: 1764300000, owned_by: 'lathe', task: 'feature-extraction', versions: ['1'], state: 'READY' } },  summary: 'One model', auth: 'infer', errors: [ErrorCode.ModelNotFound] })
  async get(@Param('model') model: string): Promise<ModelObject> {
    // A model another replica stored a moment ago is found before its announcement arrives.
    await this.repository.find(model);
    return this.describe(model);
  }

  private describe(name: string): ModelObject {
    const versions = this.repository.versions(name);
    const latest = versions.at(-1);
    if (!latest) throw new AppError(ErrorCode.ModelNotFound, `model "${name}" is not in the repository`);
    return {
      id: name,
      object: 'model',
      created: latest.created ?? 0,
      owned_by: name.startsWith('ft:') ? 'fine-tuning' : 'lathe',
      task: latest.manifest?.task ?? null,
      versions: versions.map((v: ModelVersion) => v.version),
      state: this.repository.state(latest).state,
    };
  }
}

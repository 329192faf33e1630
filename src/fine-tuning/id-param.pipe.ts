import { type PipeTransform } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { z } from 'zod';
import { type IdPrefix, idSchema, isId } from './ids.js';

const KIND_NAMES: Readonly<Record<IdPrefix, string>> = {
  file: 'file',
  ftjob: 'fine-tuning job',
  ftevent: 'fine-tuning event',
  ftckpt: 'checkpoint',
  artifact: 'artifact',
};

/**
 * A path id that does not have its kind's form names a resource that cannot exist: the same 404
 * as a well-formed id that does not, answered before any query (`@Param('id', IdParam.of('file'))`).
 */
export class IdParam implements PipeTransform<string, string> {
  private constructor(private readonly prefix: IdPrefix) {}

  static of(prefix: IdPrefix): IdParam {
    return new IdParam(prefix);
  }

  transform(value: string): string {
    if (!isId(this.prefix, value)) throw new AppError(ErrorCode.NotFound, `no ${KIND_NAMES[this.prefix]} with id "${value}"`);
    return value;
  }
}

/** The `:id` path parameter of a route, for its @ApiEndpoint declaration. */
export const idParams = (prefix: IdPrefix, example: string) => z.object({ id: idSchema(prefix).meta({ example }) });

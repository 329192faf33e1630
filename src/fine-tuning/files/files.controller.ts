import { Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../../common/errors/error-code.js';
import { ApiEndpoint } from '../../common/openapi/api-endpoint.decorator.js';
import { ApiDownloadConditions, sendDownload } from '../download-response.js';
import type { DownloadConditions } from '../stored-content.js';
import { FILE_EXAMPLE } from '../openapi-examples.js';
import { FilesService, listFilesQuery, uploadFields } from './files.service.js';
import { readUpload } from './upload-input.js';
import { IdParam, idParams } from '../id-param.pipe.js';

@ApiTags('Fine-tuning')
@Controller('v1/files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  @Post()
  @HttpCode(200)
  @ApiEndpoint({
    form: {
      files: { file: 'the dataset, JSON Lines' },
      fields: uploadFields.extend({ purpose: uploadFields.shape.purpose.meta({ example: 'fine-tune' }) }),
    },
    summary: "Upload a fine-tuning dataset (OpenAI's files API): multipart `file` + `purpose=fine-tune`",
    description:
      'JSON Lines, one example a line: `{"text": "...", "label": "..."}` for classification, `{"text": "...", "target": 0.5}` or ' +
      '`"target": [..]` for regression; `"image"` or `"audio"` (base64) instead of `"text"` for media. The answer carries Lathe\'s ' +
      '`validation` report (errors by line, label counts, duplicates, class imbalance, input kind); `status` is `error` when it has errors. ' +
      'A file that is not JSON Lines at all is refused with DATASET_INVALID and not stored.',
    auth: 'train',
    errors: [
      ErrorCode.ValidationFailed,
      ErrorCode.MalformedMultipart,
      ErrorCode.DatasetInvalid,
      ErrorCode.EmptyBody,
      ErrorCode.UnsupportedMediaType,
      ErrorCode.PayloadTooLarge,
    ],
    ok: { example: FILE_EXAMPLE },
  })
  async createFile(@Req() request: FastifyRequest) {
    return this.files.upload(await readUpload(request));
  }

  @Get()
  @ApiEndpoint({
    query: listFilesQuery,
    summary: 'List uploaded files, newest first (`after`, `limit`, `order`, `purpose`)',
    auth: 'train',
    errors: [ErrorCode.ValidationFailed],
    ok: {
      example: { object: 'list', data: [FILE_EXAMPLE], has_more: false, first_id: FILE_EXAMPLE.id, last_id: FILE_EXAMPLE.id },
    },
  })
  listFiles(@Query() query: Record<string, unknown>) {
    return this.files.list(query);
  }

  @Get(':id')
  @ApiEndpoint({
    params: idParams('file', FILE_EXAMPLE.id),
    summary: 'One file, with its validation report',
    auth: 'train',
    errors: [ErrorCode.NotFound],
    ok: { example: FILE_EXAMPLE },
  })
  retrieveFile(@Param('id', IdParam.of('file')) id: string) {
    return this.files.get(id);
  }

  @Get(':id/content')
  @ApiEndpoint({
    params: idParams('file', FILE_EXAMPLE.id),
    ok: { description: 'The bytes, as uploaded.', contentType: 'application/jsonl', schema: { type: 'string', format: 'binary' } },
    summary: "A file's bytes, as uploaded (or the results CSV a job wrote)",
    description: 'Streamed, with `content-length`, `x-content-sha256` (hex) and `etag` (the quoted sha256).',
    auth: 'train',
    errors: [ErrorCode.NotFound],
  })
  @ApiDownloadConditions()
  async fileContent(
    @Param('id', IdParam.of('file')) id: string,
    @Headers() conditions: DownloadConditions,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const download = await this.files.content(id, conditions);
    return sendDownload(reply, download);
  }

  @Delete(':id')
  @ApiEndpoint({
    params: idParams('file', FILE_EXAMPLE.id),
    summary: 'Delete a file (409 while a job that has not finished uses it)',
    auth: 'train',
    errors: [ErrorCode.NotFound, ErrorCode.Conflict],
    ok: { example: { id: FILE_EXAMPLE.id, object: 'file', deleted: true } },
  })
  deleteFile(@Param('id', IdParam.of('file')) id: string) {
    return this.files.delete(id);
  }
}

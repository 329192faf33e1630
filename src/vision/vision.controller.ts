import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { readMedia } from '../tasks/media-input.js';
import { MEDIA_CONSUMES, TASK_ERRORS, TASK_HEADERS } from '../tasks/task-openapi.js';
import { TaskTrace } from '../tasks/task-models.service.js';
import { defaultModelFor } from '../contracts/task-table.js';
import { ClassifyService } from './classify.service.js';
import { OcrService } from './ocr.service.js';

@ApiTags('Vision')
@Controller('v1/vision')
export class VisionController {
  constructor(
    private readonly classifier: ClassifyService,
    private readonly ocr: OcrService,
  ) {}

  @Post('classify')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Image classification: [{label, score}] best first (Hugging Face image-classification)',
    description:
      'Any classifier whose manifest describes its image preprocessing. Send the image as the body (image/*, options in the query), ' +
      'as multipart files (several files: one list per file), or as JSON {"image": base64} / {"images": [base64, ...]}. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TASK_ERRORS,
  })
  @ApiConsumes(...MEDIA_CONSUMES.image)
  @ApiBody({
    schema: {
      type: 'object',
      required: ['model'],
      properties: {
        model: { type: 'string', example: 'math-symbols' },
        top_k: { type: 'integer', minimum: 1, default: 5 },
        image: { type: 'string', format: 'binary', description: 'multipart: the file; JSON: base64 or a data: URL' },
        images: { type: 'array', items: { type: 'string', format: 'byte' }, description: 'JSON batch form' },
      },
    },
  })
  @ApiOkResponse({
    description: 'One image: [{label, score}]. Several: one such list per image.',
    schema: {
      example: [
        { label: '→', score: 0.97 },
        { label: '⟶', score: 0.01 },
      ],
    },
  })
  async classify(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const media = await readMedia(request, 'image');
    const results = await this.classifier.classify(media, trace);
    await reply.headers(trace.headers()).send(media.batch ? results : results[0]);
  }

  @Post('ocr')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Text in an image: lines with text, confidence and a 4-point box, in reading order (PaddleOCR v4)',
    description:
      "Detection (DB, boxes expanded), 0/180 degree direction, CTC recognition with the recognition model's dictionary. " +
      'Boxes are in original-image pixels, clockwise from top-left, after EXIF orientation. Send the image as the body (image/*), ' +
      'as multipart files, or as JSON {"image": base64} / {"images": [...]} (one result per image). ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TASK_ERRORS,
  })
  @ApiConsumes(...MEDIA_CONSUMES.image)
  @ApiBody({
    schema: {
      type: 'object',
      properties: {
        model: {
          type: 'string',
          default: defaultModelFor('ocrRecognition'),
          description: 'the recognition model; its manifest names the detection and direction models',
        },
        min_confidence: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
        max_side: {
          type: 'integer',
          minimum: 64,
          maximum: 4096,
          default: 960,
          description: "longest side the detector sees; at most the server's LATHE_OCR_MAX_SIDE (default 1280)",
        },
        image: { type: 'string', format: 'binary' },
        images: { type: 'array', items: { type: 'string', format: 'byte' } },
      },
    },
  })
  @ApiOkResponse({
    description: 'One image: the result. Several: a list of results.',
    schema: {
      example: {
        model: 'paddleocr-rec',
        version: '1',
        width: 640,
        height: 120,
        text: 'Invoice 2024: Total $128.50',
        lines: [
          {
            text: 'Invoice 2024: Total $128.50',
            confidence: 0.98,
            box: [
              [12, 30],
              [610, 30],
              [610, 84],
              [12, 84],
            ],
          },
        ],
      },
    },
  })
  async readText(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const media = await readMedia(request, 'image');
    const results = await this.ocr.read(media, trace);
    await reply.headers(trace.headers()).send(media.batch ? results : results[0]);
  }
}

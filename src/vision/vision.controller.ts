import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { readMedia } from '../tasks/media-input.js';
import { mediaRequest, TASK_ERRORS, TASK_HEADERS } from '../tasks/task-openapi.js';
import { TaskTrace } from '../tasks/task-models.service.js';
import { SAMPLE_PNG } from '../tasks/media-examples.js';
import { classifyOptions, ClassifyService } from './classify.service.js';
import { detectOptions, DetectService } from './detect.service.js';
import { ocrOptions, OcrService } from './ocr.service.js';

@ApiTags('Vision')
@Controller('v1/vision')
export class VisionController {
  constructor(
    private readonly classifier: ClassifyService,
    private readonly ocr: OcrService,
    private readonly detector: DetectService,
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
    ...mediaRequest('image', classifyOptions, { model: 'math-symbols', top_k: 2, image: SAMPLE_PNG }),
    ok: {
      description: 'One image: [{label, score}]. Several: one such list per image.',
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
    ...mediaRequest('image', ocrOptions, { image: SAMPLE_PNG }),
    ok: {
      description: 'One image: the result. Several: a list of results.',
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

  @Post('detect')
  @HttpCode(200)
  @ApiEndpoint({
    summary:
      'Object detection: [{score, label, box: {xmin, ymin, xmax, ymax}}] (Hugging Face object-detection), or the image with the boxes drawn',
    description:
      'Any detector whose manifest describes its resize (letterbox or stretch) and its outputs: MediaPipe BlazeFace (faces, with keypoints), ' +
      'Ultralytics YOLO exports with or without NMS in the graph. Boxes are in whole pixels of the image after EXIF orientation; ' +
      'NMS is per class. Send the image as the body (image/*, options in the query), as multipart files (one list per file), or as ' +
      'JSON {"image": base64} / {"images": [...]}. With render=true, or an Accept header of image/png or image/jpeg, the answer ' +
      'is that image (one image only) with the boxes, labels and keypoints drawn on it. ' +
      TASK_HEADERS,
    auth: 'infer',
    errors: TASK_ERRORS,
    ...mediaRequest('image', detectOptions, { model: 'blazeface-front', threshold: 0.5, image: SAMPLE_PNG }),
    ok: {
      description:
        'One image: [{score, label, box, keypoints?}] best first. Several: one such list per image. ' +
        'With render=true or Accept: image/png or image/jpeg: the image with the objects drawn on it.',
      alternatives: { 'image/png': { type: 'string', format: 'binary' }, 'image/jpeg': { type: 'string', format: 'binary' } },
      example: [
        {
          score: 0.92,
          label: 'face',
          box: { xmin: 176, ymin: 72, xmax: 268, ymax: 176 },
          keypoints: [
            { label: 'right_eye', x: 203, y: 105 },
            { label: 'left_eye', x: 243, y: 103 },
          ],
        },
      ],
    },
  })
  async detect(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const trace = new TaskTrace();
    const answer = await this.detector.answer(await readMedia(request, 'image'), request.headers.accept, trace);
    reply.headers(trace.headers());
    await ('json' in answer ? reply.send(answer.json) : reply.type(answer.contentType).send(answer.image));
  }
}

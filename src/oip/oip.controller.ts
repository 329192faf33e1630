import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { ReadinessService } from '../health/readiness.service.js';
import { MAX_OVERRIDE_CHARS, OVERRIDABLE_FIELDS } from '../models/manifest-override.js';
import { OipService } from './oip.service.js';

const MODEL = 'models/:model';
const VERSION = 'models/:model/versions/:version';
const METADATA_EXAMPLE = {
  name: 'glove-100d',
  versions: ['1'],
  platform: 'onnxruntime_onnx',
  inputs: [
    { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
    { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
  ],
  outputs: [{ name: 'sentence_embedding', datatype: 'FP32', shape: [-1, 100] }],
  parameters: { task: 'feature-extraction', license: 'PDDL-1.0 AND MIT', max_batch_size: 64, execution_provider: 'cpu', instances: 1 },
};
const STATS_EXAMPLE = { name: 'glove-100d', version: '1', inference_count: 12, execution_count: 9 };
const INFER_EXAMPLE = {
  id: 'r1',
  model_name: 'glove-100d',
  model_version: '1',
  outputs: [{ name: 'sentence_embedding', datatype: 'FP32', shape: [1, 100], data: [0.061, -0.027] }],
};
/** JSON tensors; the binary form is the same JSON header followed by the tensor bytes. */
const INFER_BODY = {
  body: z.object({
    id: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    inputs: z.array(z.unknown()).min(1),
    outputs: z.array(z.unknown()).optional(),
  }),
  bodyExample: {
    id: 'r1',
    inputs: [
      { name: 'input_ids', datatype: 'INT64', shape: [1, 3], data: [2, 3, 4] },
      { name: 'attention_mask', datatype: 'INT64', shape: [1, 3], data: [1, 1, 1] },
    ],
    outputs: [{ name: 'sentence_embedding' }],
  },
  raw: ['application/octet-stream'],
};
const CONFIG_EXAMPLE = {
  name: 'paddleocr-cls',
  version: '1',
  task: 'text-orientation',
  runtime: 'onnxruntime',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 48, 192] }],
  outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [2] }],
  labels: ['0', '180'],
  maxBatchSize: 32,
  instances: 1,
};
const LOAD_BODY = z
  .object({
    parameters: z
      .object({
        config: z
          .union([z.string(), z.record(z.string(), z.unknown())])
          .optional()
          .describe('manifest fields to override, as JSON'),
      })
      .optional(),
  })
  .optional();
const MODEL_ERRORS = [ErrorCode.ModelNotFound, ErrorCode.ModelLoadFailed];
const modelParams = z.object({ model: z.string().min(1).meta({ example: 'glove-100d' }) });
const versionParams = modelParams.extend({ version: z.string().min(1).meta({ example: '1' }) });

/** The Open Inference Protocol v2 (KServe / Triton) over REST, with Triton's extensions. */
@ApiTags('Open Inference Protocol v2')
@Controller('v2')
export class OipController {
  constructor(
    private readonly oip: OipService,
    private readonly readiness: ReadinessService,
  ) {}

  @Get()
  @ApiEndpoint({
    ok: {
      example: {
        name: 'lathe',
        version: '1.0.0',
        extensions: ['binary_tensor_data', 'classification', 'model_configuration', 'model_repository', 'statistics'],
      },
    },
    summary: 'Server metadata and supported extensions',
    auth: 'infer',
  })
  serverMetadata() {
    return this.oip.server();
  }

  @Get('health/live')
  @ApiEndpoint({ ok: { example: { live: true } }, summary: 'Server liveness', auth: 'public' })
  serverLive() {
    return { live: true };
  }

  @Get('health/ready')
  @ApiEndpoint({
    ok: { example: { ready: true } },
    summary: 'Server readiness (database, preloaded models, not draining); 503 when not ready',
    auth: 'public',
  })
  async serverReady(@Res({ passthrough: true }) reply: FastifyReply) {
    const report = await this.readiness.report();
    const ready = report.status === 'ready';
    reply.status(ready ? 200 : 503);
    return { ready };
  }

  @Get('models/stats')
  @ApiEndpoint({
    ok: { example: { model_stats: [STATS_EXAMPLE] } },
    summary: 'Statistics of every loaded model (Triton statistics extension)',
    auth: 'infer',
  })
  allStats() {
    return this.oip.stats();
  }

  @Get(MODEL)
  @ApiEndpoint({
    ok: { example: METADATA_EXAMPLE },
    summary: 'Model metadata: inputs, outputs, versions, execution provider',
    auth: 'infer',
    errors: MODEL_ERRORS,
    params: modelParams,
  })
  modelMetadata(@Param('model') model: string) {
    return this.oip.metadata(model, undefined);
  }

  @Get(VERSION)
  @ApiEndpoint({
    ok: { example: METADATA_EXAMPLE },
    summary: 'Model metadata: inputs, outputs, versions, execution provider',
    auth: 'infer',
    errors: MODEL_ERRORS,
    params: versionParams,
  })
  modelVersionMetadata(@Param('model') model: string, @Param('version') version: string) {
    return this.oip.metadata(model, version);
  }

  @Get(`${MODEL}/config`)
  @ApiEndpoint({
    ok: { example: CONFIG_EXAMPLE },
    summary:
      'Model configuration: the manifest the highest version is served with, overrides applied (Triton model configuration extension)',
    auth: 'infer',
    errors: MODEL_ERRORS,
    params: modelParams,
  })
  modelConfig(@Param('model') model: string) {
    return this.oip.config(model, undefined);
  }

  @Get(`${VERSION}/config`)
  @ApiEndpoint({
    ok: { example: CONFIG_EXAMPLE },
    summary: 'Model configuration: the manifest the version is served with, overrides applied (Triton model configuration extension)',
    auth: 'infer',
    errors: MODEL_ERRORS,
    params: versionParams,
  })
  modelVersionConfig(@Param('model') model: string, @Param('version') version: string) {
    return this.oip.config(model, version);
  }

  @Get(`${MODEL}/ready`)
  @ApiEndpoint({
    ok: { example: { name: 'glove-100d', ready: true } },
    summary: 'Model readiness: 200 when loaded, 400 MODEL_NOT_READY otherwise',
    auth: 'infer',
    errors: [ErrorCode.ModelNotFound, ErrorCode.ModelNotReady],
    params: modelParams,
  })
  modelReady(@Param('model') model: string) {
    return this.oip.ready(model, undefined);
  }

  @Get(`${VERSION}/ready`)
  @ApiEndpoint({
    ok: { example: { name: 'glove-100d', ready: true } },
    summary: 'Model readiness: 200 when loaded, 400 MODEL_NOT_READY otherwise',
    auth: 'infer',
    errors: [ErrorCode.ModelNotFound, ErrorCode.ModelNotReady],
    params: versionParams,
  })
  modelVersionReady(@Param('model') model: string, @Param('version') version: string) {
    return this.oip.ready(model, version);
  }

  @Get(`${MODEL}/stats`)
  @ApiEndpoint({
    ok: { example: { model_stats: [STATS_EXAMPLE] } },
    summary: 'Model statistics (Triton statistics extension)',
    auth: 'infer',
    errors: [ErrorCode.ModelNotFound],
    params: modelParams,
  })
  modelStats(@Param('model') model: string) {
    return this.oip.stats(model, undefined);
  }

  @Get(`${VERSION}/stats`)
  @ApiEndpoint({
    ok: { example: { model_stats: [STATS_EXAMPLE] } },
    summary: 'Model statistics (Triton statistics extension)',
    auth: 'infer',
    errors: [ErrorCode.ModelNotFound],
    params: versionParams,
  })
  modelVersionStats(@Param('model') model: string, @Param('version') version: string) {
    return this.oip.stats(model, version);
  }

  @Post(`${MODEL}/infer`)
  @HttpCode(200)
  @ApiEndpoint({
    ok: { description: 'Outputs as JSON, or header plus binary tensor data.', example: INFER_EXAMPLE },
    summary: 'Run inference',
    description:
      'JSON tensors, or a JSON header of Inference-Header-Content-Length bytes followed by binary tensor data ' +
      "(Triton's binary tensor data extension). Timings in x-queue-time-ms and x-inference-time-ms; the execution provider in x-execution-provider.",
    auth: 'infer',
    errors: [...MODEL_ERRORS, ErrorCode.ValidationFailed, ErrorCode.Overloaded, ErrorCode.Unavailable, ErrorCode.DeadlineExceeded],
    params: modelParams,
    ...INFER_BODY,
  })
  async infer(
    @Param('model') model: string,
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.answerInfer(model, undefined, body, request, reply);
  }

  @Post(`${VERSION}/infer`)
  @HttpCode(200)
  @ApiEndpoint({
    ok: { description: 'Outputs as JSON, or header plus binary tensor data.', example: INFER_EXAMPLE },
    summary: 'Run inference',
    description:
      'JSON tensors, or a JSON header of Inference-Header-Content-Length bytes followed by binary tensor data ' +
      "(Triton's binary tensor data extension). Timings in x-queue-time-ms and x-inference-time-ms; the execution provider in x-execution-provider.",
    auth: 'infer',
    errors: [...MODEL_ERRORS, ErrorCode.ValidationFailed, ErrorCode.Overloaded, ErrorCode.Unavailable, ErrorCode.DeadlineExceeded],
    params: versionParams,
    ...INFER_BODY,
  })
  async inferVersion(
    @Param('model') model: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.answerInfer(model, version, body, request, reply);
  }

  private async answerInfer(
    model: string,
    version: string | undefined,
    body: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const headerLength = request.headers['inference-header-content-length'];
    const result = await this.oip.infer(model, version, body, headerLength === undefined ? undefined : Number(headerLength));
    reply.headers(result.headers);
    if (result.headerLength !== undefined) {
      reply.header('inference-header-content-length', String(result.headerLength)).type('application/octet-stream');
    }
    await reply.send(result.body);
  }

  @Post('repository/index')
  @HttpCode(200)
  @ApiEndpoint({
    body: z.object({ ready: z.boolean().optional().describe('only the versions that are ready') }),
    bodyExample: { ready: false },
    ok: { example: [{ name: 'glove-100d', version: '1', state: 'READY' }] },
    summary: 'Re-read the model repository and list every model version with its state',
    auth: 'manage',
  })
  repositoryIndex(@Body() body?: { ready?: boolean }) {
    return this.oip.repositoryIndex(body?.ready === true);
  }

  @Post('repository/models/:model/load')
  @HttpCode(200)
  @ApiEndpoint({
    ok: { example: {} },
    params: modelParams,
    body: LOAD_BODY,
    bodyExample: { parameters: { config: '{"instances": 2, "dynamicBatching": {"maxQueueDelayMicroseconds": 2000}}' } },
    summary: 'Load every version of a model; with parameters.config, reload it with those manifest fields overridden',
    description:
      "`parameters.config` (Triton's): a JSON object, as a string or an object, of manifest fields to override until the next load " +
      `(${OVERRIDABLE_FIELDS.join(', ')}; at most ${MAX_OVERRIDE_CHARS} characters). A model unloaded with unload stays unloaded until loaded here.`,
    auth: 'manage',
    errors: [...MODEL_ERRORS, ErrorCode.ValidationFailed],
  })
  load(@Param('model') model: string, @Body() body?: z.infer<typeof LOAD_BODY>) {
    return this.oip.load(model, body);
  }

  @Post('repository/models/:model/unload')
  @HttpCode(200)
  @ApiEndpoint({
    ok: { example: {} },
    params: modelParams,
    summary: 'Unload every version of a model; in-flight requests fail with 503, and it stays unloaded (infer answers 503) until loaded',
    auth: 'manage',
    errors: [ErrorCode.ModelNotFound],
  })
  unload(@Param('model') model: string) {
    return this.oip.unload(model);
  }
}

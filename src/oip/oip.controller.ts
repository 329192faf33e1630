import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { ReadinessService } from '../health/readiness.service.js';
import { OipService } from './oip.service.js';

const MODEL = 'models/:model';
const VERSION = 'models/:model/versions/:version';
const MODEL_ERRORS = [ErrorCode.ModelNotFound, ErrorCode.ModelLoadFailed];

/** The Open Inference Protocol v2 (KServe / Triton) over REST, with Triton's extensions. */
@ApiTags('Open Inference Protocol v2')
@Controller('v2')
export class OipController {
  constructor(
    private readonly oip: OipService,
    private readonly readiness: ReadinessService,
  ) {}

  @Get()
  @ApiEndpoint({ summary: 'Server metadata and supported extensions', auth: 'infer' })
  serverMetadata() {
    return this.oip.server();
  }

  @Get('health/live')
  @ApiEndpoint({ summary: 'Server liveness', auth: 'public' })
  live() {
    return { live: true };
  }

  @Get('health/ready')
  @ApiEndpoint({ summary: 'Server readiness (database, preloaded models, not draining); 503 when not ready', auth: 'public' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const report = await this.readiness.report();
    const ready = report.status === 'ready';
    reply.status(ready ? 200 : 503);
    return { ready };
  }

  @Get('models/stats')
  @ApiEndpoint({ summary: 'Statistics of every loaded model (Triton statistics extension)', auth: 'infer' })
  allStats() {
    return this.oip.stats();
  }

  @Get([MODEL, VERSION])
  @ApiEndpoint({ summary: 'Model metadata: inputs, outputs, versions, execution provider', auth: 'infer', errors: MODEL_ERRORS })
  modelMetadata(@Param('model') model: string, @Param('version') version?: string) {
    return this.oip.metadata(model, version);
  }

  @Get([`${MODEL}/ready`, `${VERSION}/ready`])
  @ApiEndpoint({
    summary: 'Model readiness: 200 when loaded, 400 MODEL_NOT_READY otherwise',
    auth: 'infer',
    errors: [ErrorCode.ModelNotFound, ErrorCode.ModelNotReady],
  })
  modelReady(@Param('model') model: string, @Param('version') version?: string) {
    return this.oip.ready(model, version);
  }

  @Get([`${MODEL}/stats`, `${VERSION}/stats`])
  @ApiEndpoint({ summary: 'Model statistics (Triton statistics extension)', auth: 'infer', errors: [ErrorCode.ModelNotFound] })
  modelStats(@Param('model') model: string, @Param('version') version?: string) {
    return this.oip.stats(model, version);
  }

  @Post([`${MODEL}/infer`, `${VERSION}/infer`])
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Run inference',
    description:
      'JSON tensors, or a JSON header of Inference-Header-Content-Length bytes followed by binary tensor data ' +
      "(Triton's binary tensor data extension). Timings in x-queue-time-ms and x-inference-time-ms; the execution provider in x-execution-provider.",
    auth: 'infer',
    errors: [...MODEL_ERRORS, ErrorCode.ValidationFailed, ErrorCode.Overloaded, ErrorCode.Unavailable, ErrorCode.DeadlineExceeded],
  })
  @ApiConsumes('application/json', 'application/octet-stream')
  @ApiBody({ schema: { type: 'object', example: { id: 'r1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] } } })
  @ApiOkResponse({ description: 'Outputs as JSON, or header plus binary tensor data.' })
  async infer(
    @Param('model') model: string,
    @Param('version') version: string | undefined,
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
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
  @ApiEndpoint({ summary: 'Re-read the model repository and list every model version with its state', auth: 'manage' })
  repositoryIndex(@Body() body?: { ready?: boolean }) {
    return this.oip.repositoryIndex(body?.ready === true);
  }

  @Post('repository/models/:model/load')
  @HttpCode(200)
  @ApiEndpoint({ summary: 'Load every version of a model', auth: 'manage', errors: MODEL_ERRORS })
  load(@Param('model') model: string) {
    return this.oip.load(model);
  }

  @Post('repository/models/:model/unload')
  @HttpCode(200)
  @ApiEndpoint({
    summary: 'Unload every version of a model; in-flight requests fail with 503',
    auth: 'manage',
    errors: [ErrorCode.ModelNotFound],
  })
  unload(@Param('model') model: string) {
    return this.oip.unload(model);
  }
}

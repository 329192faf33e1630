import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiEndpoint } from '../common/openapi/api-endpoint.decorator.js';
import { TaskTrace } from '../tasks/task-models.service.js';
import { teiRoute } from './tei-routes.js';
import { TeiService } from './tei.service.js';

type TeiCall = (model: string, body: unknown, trace: TaskTrace) => Promise<unknown>;

/** Answers one TEI call with the task headers every inference response carries. */
async function answer(reply: FastifyReply, call: TeiCall, model: string, body: unknown): Promise<unknown> {
  const trace = new TaskTrace();
  const result = await call(model, body, trace);
  reply.headers(trace.headers());
  return result;
}

/** TEI's routes at the root, as a TEI server has them: the model of `?model=`, else the X-Model header's, else LATHE_TEI_MODEL. */
@ApiTags('Text Embeddings Inference')
@ApiHeader({ name: 'X-Model', required: false, description: 'the model, when the query names none; else LATHE_TEI_MODEL' })
@Controller()
export class TeiController {
  constructor(private readonly tei: TeiService) {}

  @Post('embed')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('embed', 'root'))
  teiEmbed(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.embed(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Post('embed_all')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('embedAll', 'root'))
  teiEmbedAll(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.embedAll(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Post('embed_sparse')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('embedSparse', 'root'))
  teiEmbedSparse(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.embedSparse(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Post('rerank')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('rerank', 'root'))
  teiRerank(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.rerank(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Post('predict')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('predict', 'root'))
  teiPredict(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.predict(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Post('tokenize')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('tokenize', 'root'))
  teiTokenize(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.tokenize(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Post('decode')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('decode', 'root'))
  teiDecode(
    @Query() q: { model?: string },
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, (n, b, t) => this.tei.decode(n, b, t), this.tei.modelFor(q, req.headers['x-model']), body);
  }

  @Get('info')
  @ApiEndpoint(teiRoute('info', 'root'))
  teiInfo(@Query() q: { model?: string }, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, _b, t) => this.tei.info(n, t), this.tei.modelFor(q, req.headers['x-model']), undefined);
  }
}

/** TEI's routes under /tei/{model}/: a TEI client's base URL names the model. */
@ApiTags('Text Embeddings Inference')
@Controller('tei/:model')
export class TeiModelController {
  constructor(private readonly tei: TeiService) {}

  @Post('embed')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('embed', 'model'))
  teiModelEmbed(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.embed(n, b, t), m, body);
  }

  @Post('embed_all')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('embedAll', 'model'))
  teiModelEmbedAll(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.embedAll(n, b, t), m, body);
  }

  @Post('embed_sparse')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('embedSparse', 'model'))
  teiModelEmbedSparse(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.embedSparse(n, b, t), m, body);
  }

  @Post('rerank')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('rerank', 'model'))
  teiModelRerank(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.rerank(n, b, t), m, body);
  }

  @Post('predict')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('predict', 'model'))
  teiModelPredict(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.predict(n, b, t), m, body);
  }

  @Post('tokenize')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('tokenize', 'model'))
  teiModelTokenize(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.tokenize(n, b, t), m, body);
  }

  @Post('decode')
  @HttpCode(200)
  @ApiEndpoint(teiRoute('decode', 'model'))
  teiModelDecode(@Param('model') m: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, b, t) => this.tei.decode(n, b, t), m, body);
  }

  @Get('info')
  @ApiEndpoint(teiRoute('info', 'model'))
  teiModelInfo(@Param('model') m: string, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, (n, _b, t) => this.tei.info(n, t), m, undefined);
  }
}

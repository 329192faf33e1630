/**
 * The HTTP floors of /v1/embeddings: a route that parses the same JSON request and answers a reply
 * of the same shape (base64 vectors of the model's width, filled with a constant) without
 * tokenizing or running anything. `fastify`: a bare Fastify route. `nest`: the same handler as a
 * NestJS controller on Nest's Fastify adapter, Lathe's stack, with nothing else registered. What
 * HTTP and JSON alone cost this machine per request, on each stack.
 * Forked by run.ts; argv[2]: JSON { stack: 'fastify' | 'nest', widths: { model name: vector width } }.
 * Sends { port } over IPC.
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, NotFoundException, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify from 'fastify';

interface EmbeddingsBody {
  model: string;
  input: string | string[];
}

const { stack, widths } = JSON.parse(process.argv[2] ?? '{}') as { stack: 'fastify' | 'nest'; widths: Record<string, number> };

/** The reply, or undefined for an unknown model. */
function answer(body: EmbeddingsBody): object | undefined {
  const width = widths[body.model];
  if (width === undefined) return undefined;
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vector = Buffer.from(new Float32Array(width).fill(0.1).buffer).toString('base64');
  return {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: vector })),
    model: body.model,
    usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
  };
}

@Controller('v1')
class FloorController {
  @Post('embeddings')
  @HttpCode(200)
  embeddings(@Body() body: EmbeddingsBody): object {
    const reply = answer(body);
    if (!reply) throw new NotFoundException('unknown model');
    return reply;
  }
}

@Module({ controllers: [FloorController] })
class FloorModule {}

async function listen(): Promise<{ port: number; close(): Promise<unknown> }> {
  if (stack === 'nest') {
    const app = await NestFactory.create<NestFastifyApplication>(FloorModule, new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    return { port: Number(new URL(await app.getUrl()).port), close: () => app.close() };
  }
  const app = Fastify();
  app.post<{ Body: EmbeddingsBody }>(
    '/v1/embeddings',
    async (request, reply) => answer(request.body) ?? reply.code(404).send({ error: 'unknown model' }),
  );
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: Number(new URL(address).port), close: () => app.close() };
}

const server = await listen();
process.send!({ port: server.port });
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));

/**
 * The HTTP floor of /v1/embeddings: a bare Fastify route that parses the same JSON request and
 * answers a reply of the same shape (base64 vectors of the model's width, filled with a constant)
 * without tokenizing or running anything. What HTTP and JSON alone cost this machine per request.
 * Forked by run.ts; argv[2]: JSON { model name: vector width }. Sends { port } over IPC.
 */
import Fastify from 'fastify';

const widths = JSON.parse(process.argv[2] ?? '{}') as Record<string, number>;
const app = Fastify();
app.post<{ Body: { model: string; input: string | string[] } }>('/v1/embeddings', async (request, reply) => {
  const width = widths[request.body.model];
  if (width === undefined) return reply.code(404).send({ error: 'unknown model' });
  const inputs = Array.isArray(request.body.input) ? request.body.input : [request.body.input];
  const vector = Buffer.from(new Float32Array(width).fill(0.1).buffer).toString('base64');
  return {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: vector })),
    model: request.body.model,
    usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
  };
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send!({ port: Number(new URL(address).port) });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));

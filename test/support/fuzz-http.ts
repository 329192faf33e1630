/**
 * The part inject cannot do: bytes on a real socket (truncated bodies, broken chunking, bad header
 * bytes, oversized headers). Each exchange must end in a coded answer or a closed connection.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { judge } from './fuzz-oracle.js';
import type { FuzzContext } from './fuzz-values.js';

const SOCKET_TIMEOUT_MS = 10_000;

interface RawCase {
  name: string;
  /** The request line's method and target, for the oracle (which body shape applies). */
  url: string;
  bytes: Buffer;
}

function raw(head: string, body: Buffer | string = ''): Buffer {
  return Buffer.concat([
    Buffer.from(head.replace(/\n/g, '\r\n') + '\r\n', 'latin1'),
    Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'),
  ]);
}

function cases(ctx: FuzzContext): RawCase[] {
  const key = ctx.keys.admin;
  const json = '{"model":"glove-100d","input":"a cat"}';
  const png = ctx.media.images[0]!;
  const form = Buffer.concat([
    Buffer.from('--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'),
    png,
    Buffer.from('\r\n--b--\r\n'),
  ]);
  const head = (method: string, url: string, extra: string) =>
    `${method} ${url} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${key}\nConnection: close\n${extra}`;
  return [
    {
      name: 'JSON body cut short of its Content-Length',
      url: '/v1/embeddings',
      bytes: raw(head('POST', '/v1/embeddings', `Content-Type: application/json\nContent-Length: ${json.length + 50}\n`), json),
    },
    {
      name: 'multipart body cut short',
      url: '/v1/vision/classify',
      bytes: raw(
        head(
          'POST',
          '/v1/vision/classify?model=math-symbols',
          `Content-Type: multipart/form-data; boundary=b\nContent-Length: ${form.length}\n`,
        ),
        form.subarray(0, form.length >> 1),
      ),
    },
    {
      name: 'raw image cut short',
      url: '/v1/vision/classify',
      bytes: raw(
        head('POST', '/v1/vision/classify?model=math-symbols', `Content-Type: image/png\nContent-Length: ${png.length}\n`),
        png.subarray(0, 20),
      ),
    },
    {
      name: 'dataset upload cut short',
      url: '/v1/files',
      bytes: raw(
        head('POST', '/v1/files', `Content-Type: multipart/form-data; boundary=b\nContent-Length: 4000\n`),
        '--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"text":"a","lab',
      ),
    },
    {
      name: 'invalid chunk size',
      url: '/v1/embeddings',
      bytes: raw(head('POST', '/v1/embeddings', 'Content-Type: application/json\nTransfer-Encoding: chunked\n'), 'zz\r\nabc\r\n0\r\n\r\n'),
    },
    {
      name: 'chunked body that never ends',
      url: '/v1/embeddings',
      bytes: raw(head('POST', '/v1/embeddings', 'Content-Type: application/json\nTransfer-Encoding: chunked\n'), '5\r\n{"mod\r\n'),
    },
    {
      name: 'Content-Length and Transfer-Encoding both',
      url: '/v1/embeddings',
      bytes: raw(
        head('POST', '/v1/embeddings', 'Content-Type: application/json\nContent-Length: 4\nTransfer-Encoding: chunked\n'),
        '0\r\n\r\n',
      ),
    },
    {
      name: 'negative Content-Length',
      url: '/v1/embeddings',
      bytes: raw(head('POST', '/v1/embeddings', 'Content-Type: application/json\nContent-Length: -1\n'), json),
    },
    {
      name: 'invalid UTF-8 in the Authorization header',
      url: '/v1/models',
      bytes: raw('GET /v1/models HTTP/1.1\nHost: x\nConnection: close\nAuthorization: Bearer \xff\xfe\xc3\x28\n'),
    },
    {
      name: 'NUL in a header value',
      url: '/v1/models',
      bytes: raw(`GET /v1/models HTTP/1.1\nHost: x\nConnection: close\nAuthorization: Bearer ${key}\x00\n`),
    },
    {
      name: 'raw non-ASCII bytes in the path',
      url: '/v1/models/x',
      bytes: raw(`GET /v1/models/\xc3\x28\xff HTTP/1.1\nHost: x\nConnection: close\nAuthorization: Bearer ${key}\n`),
    },
    {
      name: 'raw invalid bytes in a /v2 path',
      url: '/v2/models/x',
      bytes: raw(`GET /v2/models/\xff%00 HTTP/1.1\nHost: x\nConnection: close\nAuthorization: Bearer ${key}\n`),
    },
    {
      name: 'headers over 16 KB',
      url: '/v1/models',
      bytes: raw(`GET /v1/models HTTP/1.1\nHost: x\nConnection: close\nX-Big: ${'a'.repeat(20_000)}\n`),
    },
    { name: 'a request line that is not HTTP', url: '/', bytes: raw('GARBAGE\n') },
    { name: 'HTTP/1.0 without Host', url: '/v1/models', bytes: raw(`GET /v1/models HTTP/1.0\nAuthorization: Bearer ${key}\n`) },
    {
      name: 'an absolute-form target',
      url: '/v1/models',
      bytes: raw(`GET http://evil.example/v1/models HTTP/1.1\nHost: x\nConnection: close\nAuthorization: Bearer ${key}\n`),
    },
    {
      name: 'Expect: 100-continue and no body',
      url: '/v1/embeddings',
      bytes: raw(head('POST', '/v1/embeddings', 'Content-Type: application/json\nContent-Length: 10\nExpect: 100-continue\n')),
    },
  ];
}

interface RawAnswer {
  status?: number;
  headers: Record<string, string>;
  body: string;
  timedOut: boolean;
}

/** Writes the bytes, half-closes, and reads until the server closes (or the timeout). */
function exchange(port: number, bytes: Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, SOCKET_TIMEOUT_MS);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parse(Buffer.concat(chunks).toString('latin1')), timedOut });
    });
    socket.end(bytes);
  });
}

function parse(text: string): Omit<RawAnswer, 'timedOut'> {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!m) return { headers: {}, body: text };
  const end = text.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of text.slice(m[0].length, end).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = end >= 0 ? text.slice(end + 4) : '';
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = body.replace(/(^|\r\n)[0-9a-f]+\r\n/gi, '').replace(/\r\n$/, '');
  return { status: Number(m[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8') };
}

/** The cases whose answer broke a rule, with what came back; empty when all is well. */
export async function rawExchanges(server: Server, ctx: FuzzContext): Promise<string[]> {
  const { port } = server.address() as AddressInfo;
  const problems: string[] = [];
  for (const c of cases(ctx)) {
    const answer = await exchange(port, c.bytes);
    if (answer.timedOut) problems.push(`${c.name}: no answer and no close within ${SOCKET_TIMEOUT_MS} ms`);
    if (answer.status === undefined) continue; // the server closed the connection without an answer: allowed
    const violation = judge(
      { method: 'GET', url: c.url, headers: {} },
      { statusCode: answer.status, headers: answer.headers, body: answer.body },
    );
    if (violation) problems.push(`${c.name}: ${answer.status} ${violation.kind}: ${answer.body.slice(0, 200)}`);
  }
  return problems;
}

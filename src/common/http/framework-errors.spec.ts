import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { answerClientError } from './framework-errors.js';

/** What answerClientError writes for an error Node's HTTP server reports, and whether it closes the socket. */
function answer(code: string | undefined, rawPacket?: Buffer): { text: string; destroyed: boolean } {
  const socket = new PassThrough();
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', () => {});
  const error = Object.assign(new Error('parse error'), { code, rawPacket });
  answerClientError(error, socket);
  return { text, destroyed: socket.destroyed };
}

const bodyOf = (text: string) => JSON.parse(text.split('\r\n\r\n')[1]!) as unknown;
const idOf = (text: string) => /\r\nx-request-id: (\S+)\r\n/.exec(text)![1];

describe('answerClientError', () => {
  it('answers a parse error 400 MALFORMED_REQUEST, oversized headers 431, a timeout 408, and closes', () => {
    const cases: Array<[string, number, string, string, string]> = [
      ['HPE_INVALID_METHOD', 400, 'Bad Request', 'MALFORMED_REQUEST', 'Malformed HTTP request'],
      ['HPE_HEADER_OVERFLOW', 431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'Request headers are too large'],
      ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'Request Timeout', 'REQUEST_TIMEOUT', 'The request was not received in time'],
    ];
    for (const [node, status, reason, code, message] of cases) {
      const { text, destroyed } = answer(node);
      const body = JSON.stringify({ error: { code, message, type: 'invalid_request_error', param: null }, requestId: idOf(text) });
      assert.equal(
        text,
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
          `x-request-id: ${idOf(text)}\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.equal(destroyed, true);
    }
  });

  it('answers an Open Inference Protocol request line in its {"error"} shape', () => {
    assert.deepEqual(bodyOf(answer('HPE_INVALID_CHUNK_SIZE', Buffer.from('POST /v2/models/x/infer HTTP/1.1\r\n')).text), {
      error: 'Malformed HTTP request',
    });
    assert.deepEqual(bodyOf(answer('HPE_INVALID_CHUNK_SIZE', Buffer.from('POST /v2?x HTTP/1.1\r\n')).text), {
      error: 'Malformed HTTP request',
    });
    assert.equal(
      (bodyOf(answer('HPE_INVALID_CHUNK_SIZE', Buffer.from('POST /v20 HTTP/1.1\r\n')).text) as { requestId?: string }).requestId !==
        undefined,
      true,
    );
  });

  it('writes nothing to a connection the client reset', () => {
    assert.deepEqual(answer('ECONNRESET'), { text: '', destroyed: false });
  });
});

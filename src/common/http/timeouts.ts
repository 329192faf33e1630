import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpTimeouts } from '../../config/app-config.js';

interface TimeoutServerOptions {
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  http: ServerOptions;
}

/**
 * Fastify sets no request timeout by default, so a client sending headers or a chunked body a byte
 * at a time held a connection forever. Node's own timers bound what the client controls: receiving
 * the headers and the whole request (both answered 408, then closed), and idle keep-alive time.
 * They stop once the request is received, so a long inference is never cut by them.
 */
export function timeoutServerOptions(t: HttpTimeouts): TimeoutServerOptions {
  return {
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    // Node looks for expired requests on this period (30 s by default, which would stretch a 10 s
    // headers timeout to 40 s); only settable when the server is created.
    http: { headersTimeout: t.headersMs, connectionsCheckingInterval: checkingIntervalMs(t) },
    // The socket inactivity timer; what a timeout means is decided in installIdleTimeoutPolicy.
    connectionTimeout: t.idleMs,
  };
}

function checkingIntervalMs(t: HttpTimeouts): number {
  return Math.max(50, Math.min(1000, Math.floor(Math.min(t.headersMs, t.requestMs) / 4)));
}

/**
 * A socket inactive for the idle timeout (or, between requests, the keep-alive timeout) is closed
 * when it carries no response or when response bytes wait that the client does not read (a stalled
 * reader holding memory); never while the server is still computing a response, since a silent
 * minute of inference is legitimate. (With no 'timeout' listener Node destroys every inactive socket.)
 */
export function installIdleTimeoutPolicy(server: Server): void {
  const computing = new WeakSet<Socket>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    computing.add(request.socket);
    response.once('close', () => computing.delete(request.socket));
  });
  server.on('timeout', (socket: Socket) => {
    if (!computing.has(socket) || socket.writableLength > 0) socket.destroy();
  });
}

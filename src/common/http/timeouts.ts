import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpTimeouts } from '../../config/app-config.js';

/**
 * Fastify sets no request timeout by default, so a client sending headers or a chunked body a byte
 * at a time held a connection forever. Node's own timers bound what the client controls: receiving
 * the headers and the whole request (both answered 408, then closed), and idle keep-alive time.
 * They stop once the request is received, so a long inference is never cut by them.
 */
interface TimeoutServerOptions {
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  http: ServerOptions;
}

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
 * A socket inactive for the idle timeout is closed only when response bytes wait that the client
 * does not read (a stalled reader holding memory), never while the server is still computing a
 * response: a silent minute of inference is legitimate. (Node destroys every inactive socket
 * when the server has no 'timeout' listener.) Idle keep-alive sockets are the keep-alive timer's.
 */
export function installIdleTimeoutPolicy(server: Server): void {
  server.on('timeout', (socket: Socket) => {
    if (socket.writableLength > 0) socket.destroy();
  });
}

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';

/** Makes the app's server listen on a free 127.0.0.1 port (supertest does this per request; raw sockets need it once). */
export async function listenOnFreePort(server: Server): Promise<number> {
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  }
  return (server.address() as AddressInfo).port;
}

export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** Whether the server closed the connection before the deadline. */
  closed: boolean;
  /** Milliseconds from the first write to the close (or to the deadline). */
  ms: number;
}

/**
 * Writes `data` on a fresh socket, then nothing (a client that stalls) or `trickle.data` every
 * `trickle.everyMs` (a client that never finishes), and
 * collects what the server sends until the server closes the connection, `until(text)` holds,
 * or `deadlineMs` passes. The socket is always destroyed before this resolves.
 */
export function rawExchange(
  port: number,
  data: string | Buffer,
  options: { deadlineMs: number; until?: (text: string) => boolean; trickle?: { everyMs: number; data: string } },
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    let text = '';
    let settled = false;
    let trickle: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(trickle);
      socket.destroy();
      resolve({ text, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.deadlineMs);
    socket.on('connect', () => {
      socket.write(data);
      const more = options.trickle;
      if (more) trickle = setInterval(() => socket.writable && socket.write(more.data), more.everyMs);
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (options.until?.(text)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset a socket it closes while bytes are still unread.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(true);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        clearInterval(trickle);
        socket.destroy();
        reject(err);
      }
    });
  });
}

/** The status code and the JSON body of the first response in `text`. */
export function parseRawResponse(text: string): { status: number; headers: Record<string, string>; body: unknown } {
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const length = Number(headers['content-length'] ?? body.length);
  return { status: Number(statusLine.split(' ')[1]), headers, body: body ? JSON.parse(body.slice(0, length)) : undefined };
}

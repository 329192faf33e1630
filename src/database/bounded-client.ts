import pg from 'pg';
import type { DatabaseTimeouts } from '../config/app-config.js';

/** pg's message when its client-side query_timeout fires. */
const QUERY_READ_TIMEOUT = 'Query read timeout';
const CLIENT_GRACE_MS = 250;

/**
 * A pg Client whose waits are bounded, for the pool to create (pg-pool's `Client` option).
 * pg-pool uses one `connectionTimeoutMillis` for both waiting for a free client and opening one;
 * this class gives opening its own bound. A statement is bounded twice: `statement_timeout` makes
 * a live server cancel it, and `query_timeout` makes the client give up on a server that does not
 * answer at all (stopped, frozen, cut off).
 *
 * When the client gives up, pg leaves the statement in flight on the connection: the next user of
 * that pooled connection would queue behind it, and a timed-out ROLLBACK is never sent, so a later
 * borrower could run inside someone else's open transaction. The connection is therefore
 * destroyed: the server rolls back whatever was not committed when it sees it gone.
 */
export function boundedClientClass(timeouts: DatabaseTimeouts): typeof pg.Client {
  // The client waits a little longer than the server, so a live server cancels first and keeps the connection.
  const statement = timeouts.queryMs > 0 ? { statement_timeout: timeouts.queryMs, query_timeout: timeouts.queryMs + CLIENT_GRACE_MS } : {};
  return class BoundedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      const base = typeof config === 'string' ? { connectionString: config } : (config ?? {});
      super({ ...base, ...statement, connectionTimeoutMillis: timeouts.connectMs });
    }

    // pg's query() has many overloads; this one wrapper serves them all, so its type is pg's.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(...args: unknown[]): any {
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (result instanceof Promise) {
        result.catch((err: unknown) => {
          if ((err as Error)?.message === QUERY_READ_TIMEOUT) this.destroyConnection();
        });
      }
      return result;
    }

    private destroyConnection(): void {
      const client = this as unknown as { _queryable: boolean; connection: { stream: { destroy(): void } } };
      // At once, before the borrower releases it: pg-pool discards a released client that is not
      // queryable (the socket's own close event comes a tick too late for that).
      client._queryable = false;
      client.connection.stream.destroy();
    }
  } as typeof pg.Client;
}

import { EventEmitter } from 'node:events';
import { type HostPort, hostSession, type SessionInit } from './session-host.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

/**
 * A session host on the main thread behind a Worker's face (`message`, `error` and `exit`
 * events, postMessage, terminate), so SessionWorker drives it as it drives a thread. Messages go
 * both ways by reference in a microtask: nothing is cloned, and a receiver never runs inside its
 * sender's call. Whatever the host runs blocks the main thread; ModelRunner sends it only lone
 * requests of models whose manifest opts in, and stops once a call runs over the budget.
 */
export class InlineThread extends EventEmitter {
  /** The main thread's. */
  readonly threadId = 0;
  private readonly host = new EventEmitter();
  private exited = false;

  constructor(init: SessionInit) {
    super();
    const port: HostPort = {
      postMessage: (message: FromWorker) => queueMicrotask(() => this.emit('message', message)),
      on: (event, listener) => this.host.on(event, listener),
      close: () => this.exit(0),
    };
    hostSession(init, port, { blocking: true }).catch((err: unknown) => {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      this.exit(1);
    });
  }

  /** `transfer` is a thread's concern: here the sender's buffers are the receiver's. */
  postMessage(message: ToWorker, transfer?: readonly ArrayBuffer[]): void {
    void transfer;
    queueMicrotask(() => this.host.emit('message', message));
  }

  /** Closes the host (it releases its session after the message it is on); resolves with the exit code. */
  terminate(): Promise<number> {
    if (this.exited) return Promise.resolve(0);
    const exited = new Promise<number>((resolve) => this.once('exit', resolve));
    // A host that failed to load listens for nothing: it has nothing to release either.
    if (this.host.listenerCount('message') === 0) this.exit(0);
    else this.postMessage({ type: 'close' });
    return exited;
  }

  private exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    queueMicrotask(() => this.emit('exit', code));
  }
}

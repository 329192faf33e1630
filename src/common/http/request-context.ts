import { AsyncLocalStorage } from 'node:async_hooks';

interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Binds the request id to everything the request's handlers do, so every log line carries it. */
export function enterRequestContext(requestId: string): void {
  storage.enterWith({ requestId });
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

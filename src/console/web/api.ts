import { SseParser } from './lib/sse.js';

/** The scopes Lathe's keys carry (src/config/api-keys.ts); admin holds every one. */
export type Scope = 'infer' | 'manage' | 'train' | 'admin';

export interface WhoAmI {
  name: string | null;
  scopes: Scope[];
  open: boolean;
}

/** An answer that was not 2xx, with Lathe's error code when the body had one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const KEY_ITEM = 'lathe.console.apiKey';

/** The key lives in session storage (gone with the tab) and travels only in the Authorization header. */
export const keyStore = {
  get: (): string | null => sessionStorage.getItem(KEY_ITEM),
  set: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** Called when the server says the key is missing or wrong, so the page can show the sign-in prompt. */
let onUnauthorized: (error: ApiError) => void = () => undefined;
export function whenUnauthorized(handler: (error: ApiError) => void): void {
  onUnauthorized = handler;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = keyStore.get();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  let code = `HTTP_${res.status}`;
  let message = text.slice(0, 300) || res.statusText;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } | string };
    if (typeof body.error === 'string') message = body.error;
    else if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // Not JSON: keep the text.
  }
  const error = new ApiError(res.status, code, message);
  if (code === 'MISSING_API_KEY' || code === 'INVALID_API_KEY') onUnauthorized(error);
  return error;
}

export async function request(method: string, path: string, body?: BodyInit | object, contentType?: string): Promise<Response> {
  const json = body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && typeof body === 'object';
  const res = await fetch(path, {
    method,
    headers: headers(json ? { 'content-type': 'application/json' } : contentType ? { 'content-type': contentType } : {}),
    body: json ? JSON.stringify(body) : (body as BodyInit | undefined),
  });
  if (!res.ok) throw await failure(res);
  return res;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request('GET', path)).json()) as T;
}

export async function postJson<T>(path: string, body?: BodyInit | object, contentType?: string): Promise<T> {
  return (await (await request('POST', path, body, contentType)).json()) as T;
}

/** GET /v1/auth/whoami with the stored key; rejects with ApiError when the key is missing or wrong. */
export function whoami(): Promise<WhoAmI> {
  return getJson<WhoAmI>('/v1/auth/whoami');
}

/** A Server-Sent Events stream read with fetch, so the key goes in a header; `signal` ends it. */
export async function streamEvents(
  path: string,
  onData: (data: string) => void,
  signal: AbortSignal,
  init: RequestInit = {},
): Promise<void> {
  const res = await fetch(path, { ...init, headers: headers((init.headers as Record<string, string>) ?? {}), signal });
  if (!res.ok || !res.body) throw await failure(res);
  const parser = new SseParser();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    for (const event of parser.push(value)) {
      if (event.event === 'error') throw new ApiError(500, 'STREAM_ERROR', event.data);
      onData(event.data);
    }
  }
}

/** Downloads an authenticated resource as a file (a plain link could not carry the key). */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await request('GET', path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

import helmet, { type HelmetOptions } from 'helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Helmet's headers, worked out once at start-up and set on every reply. Helmet's answer depends
 * only on its options, never on the request, so there is no need to rebuild its middleware per
 * request (which `@fastify/helmet` does, at a measurable cost on the inference routes).
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as never, response as never, (err?: unknown) => (failure = err));
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return headers;
}

/** Helmet's defaults, with a CSP that Swagger UI at /docs works under. */
export const SECURITY_HEADER_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: {
    directives: {
      // Swagger UI loads its own scripts and styles from 'self' plus inline styles.
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      // Plain-HTTP deployments behind a load balancer must not have /docs assets rewritten to https.
      upgradeInsecureRequests: null,
    },
  },
};

export function installSecurityHeaders(fastify: FastifyInstance, options: Readonly<HelmetOptions> = SECURITY_HEADER_OPTIONS): void {
  const headers = helmetHeaders(options);
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}

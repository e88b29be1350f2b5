/**
 * Optional API-key authentication: with keys configured, every route except the public ones
 * (`public_paths`: probes, metrics and docs by default) needs `Authorization: Bearer <key>`.
 * It runs in onRequest, before the body is read, so a caller without a key costs no parsing.
 * `Basic` credentials whose password is a key are accepted too: clients that cannot set
 * headers (OpenRLHF posts with python-requests) can carry the key in the URL, http://user:KEY@host.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { ApiKeys } from './api-keys.js';
import { sendError } from './error-handler.js';
import type { ServerMetrics } from './metrics.js';

const CHALLENGE = 'Bearer realm="warm-serve"';

/** The key in an Authorization header (Bearer token, or the password of Basic credentials). */
export function presentedKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!match) return undefined;
  const [, scheme, value] = match;
  if (/^bearer$/i.test(scheme)) return value.trim();
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/** Whether the route a request matched is public: a listed path or anything below one. */
function isPublic(request: FastifyRequest, publicPaths: readonly string[]): boolean {
  // The matched route, not the raw URL, so no spelling of a path can borrow a public prefix.
  const route = request.is404 ? undefined : request.routeOptions.url;
  if (route === undefined) return false;
  return publicPaths.some((p) => route === p || route.startsWith(p.endsWith('/') ? p : `${p}/`));
}

/** Install the check (a no-op without keys); refusals are 401 with a WWW-Authenticate challenge. */
export function installAuth(app: FastifyInstance, keys: ApiKeys, publicPaths: readonly string[], metrics: ServerMetrics): void {
  if (!keys.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    if (isPublic(request, publicPaths)) return;
    const key = presentedKey(request.headers.authorization);
    if (key !== undefined && keys.accepts(key)) return;
    metrics.rejected('unauthorized');
    reply.header('www-authenticate', key === undefined ? CHALLENGE : `${CHALLENGE}, error="invalid_token"`);
    const problem = key === undefined ? 'this server needs an API key and the request carries none' : 'the API key is not accepted';
    return sendError(errors.unauthorized(problem), request, reply);
  });
}

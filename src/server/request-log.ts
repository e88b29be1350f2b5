/**
 * One log line and one metrics sample per request, written when the response is sent. It
 * replaces fastify's two default lines with a summary a person can read at a glance: route,
 * status, items, tokens and where the time went. Probes (/health, /ready, /metrics) log at debug.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerMetrics } from './metrics.js';

/** What a route learned about its request, for the summary line. */
export interface RequestOutcome {
  items?: number;
  tokens?: number;
  tokenize_ms?: number;
  queue_ms?: number;
  inference_ms?: number;
  errorType?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    outcome: RequestOutcome;
  }
}

const PROBES = new Set(['/health', '/ready', '/metrics']);

// Accept the caller's id only when it is short and plain, so it cannot forge log lines.
const SAFE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** fastify `genReqId`: the caller's `x-request-id` when usable, else a fresh UUID. */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 100) / 100);

function routeLabel(request: FastifyRequest): string {
  return request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
}

/** Echo the request id, then log and count each request once it is answered. */
export function installRequestLog(app: FastifyInstance, metrics: ServerMetrics): void {
  app.decorateRequest('outcome', null as unknown as RequestOutcome);
  app.addHook('onRequest', async (request, reply) => {
    request.outcome = {};
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = routeLabel(request);
    const status = reply.statusCode;
    const totalMs = reply.elapsedTime;
    metrics.request(route, request.method, status, totalMs / 1000);
    const o = request.outcome;
    const line = {
      route,
      method: request.method,
      status,
      items: o.items,
      tokens: o.tokens,
      tokenize_ms: round(o.tokenize_ms),
      queue_ms: round(o.queue_ms),
      inference_ms: round(o.inference_ms),
      total_ms: round(totalMs),
      error_type: o.errorType,
    };
    // Probes run every few seconds (and /ready is 503 by design while starting or draining).
    if (PROBES.has(route)) request.log.debug(line, 'request');
    else if (status >= 500) request.log.warn(line, 'request');
    else request.log.info(line, 'request');
  });
}

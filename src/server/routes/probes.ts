/** GET /health (liveness), GET /ready (readiness) and GET /metrics (Prometheus). */
import type { ServerContext, ZodApp } from '../context.js';
import { HealthResponseSchema, ReadyResponseSchema } from '../../api/schemas.js';

/** Register the routes. */
export function probeRoutes(app: ZodApp, ctx: ServerContext): void {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: 200 while the process serves HTTP',
        tags: ['operations'],
        response: { 200: HealthResponseSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 once the model is loaded and warmed up; 503 before and while draining',
        tags: ['operations'],
        response: { 200: ReadyResponseSchema, 503: ReadyResponseSchema },
      },
    },
    async (_request, reply) => {
      const status = ctx.state.phase;
      if (status !== 'ready') reply.code(503).header('retry-after', '1');
      return { status };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );
}

/** GET /v1/info: what is being served and how it is batched. */
import { errors } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema, InfoResponseSchema } from '../schemas.js';

/** Register the route. */
export function infoRoute(app: ZodApp, ctx: ServerContext): void {
  app.get(
    '/v1/info',
    {
      schema: {
        summary: 'Model, merge provenance, limits and batching settings',
        tags: ['scoring'],
        response: { 200: InfoResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    async () => {
      const service = ctx.state.service;
      if (!service) throw errors.notReady();
      const { info } = service;
      const c = ctx.config;
      return {
        model: info.name,
        path: info.path,
        version: VERSION,
        max_length: info.max_length,
        padding_side: info.padding_side,
        members: info.members,
        merge: info.merge,
        execution_provider: info.execution_provider,
        inputs: info.inputs,
        batching: {
          max_batch_size: c.max_batch_size,
          max_batch_tokens: c.max_batch_tokens,
          max_queue_delay_ms: c.max_queue_delay_ms,
          max_padding_ratio: c.max_padding_ratio,
          max_queue_items: c.max_queue_items,
          max_queue_tokens: c.max_queue_tokens,
          queue_timeout_ms: c.queue_timeout_ms,
          max_inflight_batches: c.max_inflight_batches,
        },
        limits: {
          body_limit_bytes: c.body_limit_bytes,
          max_items_per_request: c.max_items_per_request,
          max_completions_per_rank: c.max_completions_per_rank,
          max_chars_per_item: c.max_chars_per_item,
        },
      };
    },
  );
}

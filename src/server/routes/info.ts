/** GET /v1/info: what is being served and how it is batched. */
import { batchingSettings } from '../../config/schema.js';
import { errors } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema, InfoResponseSchema } from '../../api/schemas.js';

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
        prefix_sharing: info.prefix_sharing,
        reward_cache: info.reward_cache,
        head_names: info.head_names,
        head_weights: info.head_weights,
        ensemble: {
          enabled: info.ensemble !== undefined,
          members: info.ensemble?.members ?? [],
          uwo_lambda: info.ensemble?.uwo_lambda ?? c.uwo_lambda,
        },
        batching: batchingSettings(c),
        limits: {
          body_limit_bytes: c.body_limit_bytes,
          max_items_per_request: c.max_items_per_request,
          max_completions_per_rank: c.max_completions_per_rank,
          max_chars_per_item: c.max_chars_per_item,
          max_ids_per_item: c.max_ids_per_item,
          max_messages_per_item: c.max_messages_per_item,
          max_json_depth: c.max_json_depth,
        },
      };
    },
  );
}

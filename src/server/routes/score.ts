/** POST /v1/score: rewards for a list of items, in request order. */
import type { FastifyReply } from 'fastify';
import { ErrorResponseSchema, ScoreItemSchema, ScoreRequestSchema, ScoreResponseSchema, type ScoreRequest } from '../../api/schemas.js';
import type { ServerContext, ZodApp } from '../context.js';
import { memberOutput } from '../member-output.js';
import { scoreItems } from '../scoring-route.js';

/** Register the route. */
export function scoreRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/v1/score',
    {
      preValidation: ctx.admission.bounds({
        lists: [{ field: 'items', limit: 'max_items_per_request' }],
        items: { field: 'items', schema: ScoreItemSchema },
      }),
      schema: {
        summary: 'Score items',
        description:
          'One reward per item, in request order. Items from all clients share batches, so many concurrent single-item calls cost about as much as one batched call.',
        tags: ['scoring'],
        body: ScoreRequestSchema,
        response: { 200: ScoreResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleScore(ctx, request.body, reply),
  );
}

/** Score the items of a validated /v1/score body and answer in its format. */
async function handleScore(ctx: ServerContext, body: ScoreRequest, reply: FastifyReply) {
  const { items, truncate, aggregate, return_members, return_heads } = body;
  const { info, result } = await scoreItems(ctx, reply, items, { truncate, aggregate, returnMembers: return_members, returnHeads: return_heads });
  return {
    model: info.name,
    aggregate,
    rewards: result.items.map((i) => i.reward),
    truncated: result.items.map((i) => i.truncated),
    tokens: result.items.map((i) => i.tokens),
    ...memberOutput(info, result.items),
    ...(return_heads ? { heads: result.items.map((i) => i.heads!) } : {}),
    timings: { ...result.timings, total_ms: reply.elapsedTime },
  };
}

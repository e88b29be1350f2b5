/** POST /v1/score: rewards for a list of items, in request order. */
import type { FastifyReply } from 'fastify';
import type { ScoreResult } from '../../scoring/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { memberOutput } from '../member-output.js';
import { ErrorResponseSchema, ScoreItemSchema, ScoreRequestSchema, ScoreResponseSchema } from '../../api/schemas.js';

/** An AbortSignal that fires when the client goes away before its response is written. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The client may have left before the handler ran (its 'close' is past): under load, requests
  // of clients that timed out wait in the socket backlog, and computing them only deepens it.
  if (reply.raw.destroyed) controller.abort();
  else {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
  }
  return controller.signal;
}

/** Copy a result's counts into the request's summary line and metrics. */
export function recordOutcome(ctx: ServerContext, reply: FastifyReply, result: ScoreResult): number {
  const tokens = result.items.reduce((n, item) => n + item.tokens, 0);
  Object.assign(reply.request.outcome, { items: result.items.length, tokens, ...result.timings });
  ctx.metrics.tokenization(result.timings.tokenize_ms);
  ctx.metrics.scored(result.items.length, tokens);
  return tokens;
}

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
    async (request, reply) => {
      const service = ctx.admission.service();
      const { items, truncate, aggregate, return_members } = request.body;
      ctx.admission.checkItems(items);
      request.outcome.items = items.length;
      const result = await service.score(items, { truncate, signal: clientGone(reply), aggregate, returnMembers: return_members });
      recordOutcome(ctx, reply, result);
      return {
        model: service.info.name,
        aggregate,
        rewards: result.items.map((i) => i.reward),
        truncated: result.items.map((i) => i.truncated),
        tokens: result.items.map((i) => i.tokens),
        ...memberOutput(service.info, result.items),
        timings: { ...result.timings, total_ms: reply.elapsedTime },
      };
    },
  );
}

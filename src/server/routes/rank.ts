/** POST /v1/rank: best-of-N, the completions of one prompt ordered by reward. */
import type { ServerContext, ZodApp } from '../context.js';
import { memberOutput } from '../member-output.js';
import { ErrorResponseSchema, RankRequestSchema, RankResponseSchema } from '../../api/schemas.js';
import { clientGone, recordOutcome } from './score.js';

/** Register the route. */
export function rankRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/v1/rank',
    {
      preValidation: ctx.admission.bounds({ lists: [{ field: 'completions', limit: 'max_completions_per_rank' }] }),
      schema: {
        summary: 'Rank completions of one prompt (best-of-N)',
        description:
          'Scores every completion as a {prompt, completion} item and returns them best first. `top_k` trims the ranking, not the scoring.',
        tags: ['scoring'],
        body: RankRequestSchema,
        response: { 200: RankResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const service = ctx.admission.service();
      const { prompt, completions, top_k, truncate, aggregate, return_members } = request.body;
      ctx.admission.checkRank(prompt, completions);
      request.outcome.items = completions.length;
      const items = completions.map((completion) => ({ prompt, completion }));
      const result = await service.score(items, { truncate, signal: clientGone(reply), aggregate, returnMembers: return_members });
      recordOutcome(ctx, reply, result);
      const ranking = result.items
        .map((item, index) => ({ index, reward: item.reward, truncated: item.truncated, uncertainty: item.uncertainty }))
        // Array.prototype.sort is stable, so equal rewards keep request order.
        .sort((a, b) => b.reward - a.reward);
      return {
        model: service.info.name,
        aggregate,
        ranking: top_k === undefined ? ranking : ranking.slice(0, top_k),
        best_index: ranking[0].index,
        rewards: result.items.map((i) => i.reward),
        ...memberOutput(service.info, result.items),
        timings: { ...result.timings, total_ms: reply.elapsedTime },
      };
    },
  );
}

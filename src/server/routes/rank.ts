/** POST /v1/rank: best-of-N, the completions of one prompt ordered by reward. */
import type { FastifyReply } from 'fastify';
import { ErrorResponseSchema, RankRequestSchema, RankResponseSchema, type RankRequest } from '../../api/schemas.js';
import type { ServerContext, ZodApp } from '../context.js';
import { memberOutput } from '../member-output.js';
import { scoreItems } from '../scoring-route.js';
import { groupAdvantages } from '../../scoring/advantages.js';

/** Register the route. */
export function rankRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/v1/rank',
    {
      preValidation: ctx.admission.bounds({ lists: [{ field: 'completions', limit: 'max_completions_per_rank' }] }),
      schema: {
        summary: 'Rank completions of one prompt (best-of-N)',
        description:
          'Scores every completion as a {prompt, completion} item and returns them best first. `top_k` trims the ranking, not the scoring. `normalize: "group"` adds GRPO\'s group-normalised advantages.',
        tags: ['scoring'],
        body: RankRequestSchema,
        response: { 200: RankResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleRank(ctx, request.body, reply),
  );
}

/** Score every completion of a validated /v1/rank body as {prompt, completion} and answer with them best first. */
async function handleRank(ctx: ServerContext, body: RankRequest, reply: FastifyReply) {
  const { prompt, completions, top_k, truncate, aggregate, return_members, return_heads, normalize } = body;
  const items = completions.map((completion) => ({ prompt, completion }));
  const { info, result } = await scoreItems(ctx, reply, items, {
    checkLimits: () => ctx.admission.checkRank(prompt, completions),
    truncate,
    aggregate,
    returnMembers: return_members,
    returnHeads: return_heads,
  });
  const rewards = result.items.map((i) => i.reward);
  const ranking = result.items
    .map((item, index) => ({ index, reward: item.reward, truncated: item.truncated, uncertainty: item.uncertainty }))
    // Array.prototype.sort is stable, so equal rewards keep request order.
    .sort((a, b) => b.reward - a.reward);
  return {
    model: info.name,
    aggregate,
    ranking: top_k === undefined ? ranking : ranking.slice(0, top_k),
    best_index: ranking[0].index,
    rewards,
    ...(normalize === 'group' ? { advantages: groupAdvantages(rewards) } : {}),
    ...memberOutput(info, result.items),
    ...(return_heads ? { heads: result.items.map((i) => i.heads!) } : {}),
    timings: { ...result.timings, total_ms: reply.elapsedTime },
  };
}

/**
 * POST /get_reward: OpenRLHF's remote reward model protocol (`--reward.remote_url`, formerly
 * `--remote_rm_url`). Wire format from OpenRLHF's own client and server:
 * openrlhf/utils/remote_rm_utils.py (`remote_rm_fn_ray` posts {"query", "prompts", "labels"}
 * and reads the JSON answer) and openrlhf/cli/serve_rm.py (answers {"rewards", "scores",
 * "extra_logs"}). `query` is the prompt and response already rendered with the policy's
 * template, so it is scored as raw text; `prompts` and `labels` are accepted and not used.
 * With several URLs OpenRLHF splits a batch across them and sends empty lists to the spare
 * servers, so an empty `query` is an empty answer, not an error. `scores` are the rewards, as
 * OpenRLHF's serve_rm answers, or their sigmoid (openrlhf_scores: sigmoid) for its dynamic
 * filtering, which compares each group's mean score with a range such as (0, 1).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema } from '../../api/schemas.js';
import { sigmoid } from '../activation.js';
import { compatErrorHandler, scoreCompat } from './compat-scoring.js';

export const OpenRlhfRequestSchema = z
  .object({
    query: z.array(z.string()).describe('prompt + response, already formatted; scored as raw text (may be empty)'),
    prompts: z.array(z.string()).nullish().describe('accepted and not used: the prompt is already inside each query'),
    labels: z.array(z.unknown()).nullish().describe('accepted and not used (reference answers for rule-based rewards)'),
  })
  .meta({ id: 'OpenRlhfRewardRequest', description: 'unknown fields are ignored, as OpenRLHF forks add their own' });

export const OpenRlhfResponseSchema = z
  .object({
    rewards: z.array(z.number()).describe('one per query, in order: the raw reward (what /v1/score returns)'),
    scores: z.array(z.number()).describe('the same values, or sigmoid(reward) with the setting openrlhf_scores: sigmoid; OpenRLHF\'s --dynamic_filtering keeps a group whose mean score is inside --dynamic_filtering_reward_range'),
    extra_logs: z.object({}).describe('nothing extra to log'),
  })
  .meta({ id: 'OpenRlhfRewardResponse' });

/** Register the route. */
export function openRlhfRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/get_reward',
    {
      // OpenRLHF retries any failure (5 tries, 1 s apart) whatever the status, so ours stand.
      errorHandler: compatErrorHandler(ctx, {}),
      preValidation: ctx.admission.bounds({
        lists: ['query', 'prompts', 'labels'].map((field) => ({ field, limit: 'max_items_per_request' as const })),
      }),
      schema: {
        summary: 'OpenRLHF remote reward model (--reward.remote_url)',
        description:
          'Rewards for already-formatted prompt + response texts. Same model, queue and rewards as /v1/score with {"text"} items.',
        tags: ['compatibility'],
        body: OpenRlhfRequestSchema,
        response: { 200: OpenRlhfResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleGetReward(ctx, request.body, reply),
  );
}

/** Score each `query` text as raw text and answer with OpenRLHF's rewards and scores. */
async function handleGetReward(ctx: ServerContext, body: z.output<typeof OpenRlhfRequestSchema>, reply: FastifyReply) {
  const items = body.query.map((text) => ({ text }));
  const { result } = await scoreCompat(ctx, reply, items, { field: 'query', truncate: true });
  const rewards = result.items.map((i) => i.reward);
  return { rewards, scores: ctx.config.openrlhf_scores === 'sigmoid' ? rewards.map(sigmoid) : rewards, extra_logs: {} };
}

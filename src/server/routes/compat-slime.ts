/**
 * POST /reward: slime's remote reward model (`--rm-type remote_rm --rm-url URL`). slime posts one
 * sample as {"prompt", "response", "label"} and takes the JSON answer itself as the reward, or
 * `answer[K]` with `--reward-key K`; its group normalisation then needs one number per sample.
 * So the answer is the bare reward, or {K: reward} for `?reward_key=K`.
 * Followed: THUDM/slime slime/rollout/rm_hub/__init__.py (`remote_rm`: aiohttp POST of the
 * payload, `resp.json()` returned as is, 10 tries with backoff on any failure) and
 * slime/utils/types.py (`Sample.get_reward_value`: `reward if not args.reward_key else
 * reward[args.reward_key]`). `prompt` is a string (rendered when slime applies the chat
 * template) or the sample's messages (when it does not); `label` is accepted and not used.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ScoreInput } from '../../scoring/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema, LooseMessageSchema } from '../../api/schemas.js';
import { compatErrorHandler, scoreCompat } from './compat-scoring.js';

export const SlimeRewardRequestSchema = z
  .object({
    prompt: z
      .union([z.string(), z.array(LooseMessageSchema).min(1)], { error: 'expected a string or a non-empty list of {"role", "content"} messages' })
      .describe("a string: scored as {prompt, completion: response} with the model's template; messages: the chat with the response appended as the assistant's turn"),
    response: z.string().describe('the policy\'s response'),
    label: z.unknown().optional().describe('accepted and not used (the reference answer of rule-based rewards)'),
  })
  .meta({ id: 'SlimeRewardRequest', description: 'unknown fields are ignored' });

export const SlimeRewardQuerySchema = z.object({
  reward_key: z
    .string()
    .min(1)
    .optional()
    .describe("with slime's --reward-key K, send ?reward_key=K: the answer is {K: reward}"),
});

export const SlimeRewardResponseSchema = z
  .union([z.number(), z.record(z.string(), z.number())])
  .describe('the reward as a bare JSON number; {reward_key: reward} with ?reward_key')
  .meta({ id: 'SlimeRewardResponse' });

/** The sample as a score item: a prompt string through the model's template, messages through its chat template. */
function toItem(prompt: string | z.output<typeof LooseMessageSchema>[], response: string): ScoreInput {
  if (typeof prompt === 'string') return { prompt, completion: response };
  return { messages: [...prompt, { role: 'assistant', content: response }] };
}

/** Register the route. */
export function slimeRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/reward',
    {
      // slime retries any failure (10 tries, backing off) whatever the status, so ours stand.
      errorHandler: compatErrorHandler(ctx, {}),
      schema: {
        summary: 'slime remote reward model (--rm-type remote_rm --rm-url)',
        description:
          'One sample\'s reward as a bare JSON number (slime without --reward-key), or {K: reward} with ?reward_key=K (slime with --reward-key K). Same model, queue and rewards as /v1/score.',
        tags: ['compatibility'],
        querystring: SlimeRewardQuerySchema,
        body: SlimeRewardRequestSchema,
        response: { 200: SlimeRewardResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleReward(ctx, request.body, request.query.reward_key, reply),
  );
}

/** Score the sample and answer with its reward, bare or under `key`. */
async function handleReward(ctx: ServerContext, body: z.output<typeof SlimeRewardRequestSchema>, key: string | undefined, reply: FastifyReply) {
  const item = toItem(body.prompt, body.response);
  // One sample: its problems are named by the request's own fields (`prompt`, not `items[0]`).
  const { result } = await scoreCompat(ctx, reply, [item], {
    field: 'prompt',
    truncate: true,
    checkLimits: () => ctx.admission.checkItem(item, 'prompt + response'),
    pathOf: () => 'prompt',
  });
  const reward = result.items[0].reward;
  return key === undefined ? reward : { [key]: reward };
}

/**
 * POST /classify in the wire format of vLLM's pooling classification API, which verl's reward
 * loop calls for a discriminative reward model and reads as `data[-1].probs[-1]`.
 * Followed: vllm-project/vllm vllm/entrypoints/pooling/classify/protocol.py
 * (ClassificationCompletionRequest, ClassificationData, ClassificationResponse),
 * vllm/entrypoints/pooling/base/protocol.py (ClassifyRequestMixin: `use_activation`, and the
 * deprecated `activation` / `softmax`, default on) and the classifier activation in
 * vllm/model_executor/layers/pooler (PoolerClassify: sigmoid when there are fewer than 2
 * labels); verl/experimental/reward_loop/reward_loop.py (`compute_score_disrm` posts
 * {"model", "input", "use_activation": false}, older releases "activation": false).
 * So verl gets the raw reward, and a vLLM client that leaves the activation on gets sigmoid(reward).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { sigmoid } from '../activation.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema } from '../../api/schemas.js';
import { compatErrorHandler, scoreCompat, type StatusMap } from './compat-scoring.js';

/** vLLM answers request errors with 400; verl retries 5xx (16 times, backing off) and never 4xx. */
const VLLM_STATUSES: StatusMap = {
  malformed_json: 400,
  validation_error: 400,
  payload_too_large: 400,
  unsupported_media_type: 400,
};

const ActivationSchema = z.boolean().nullish();

export const ClassifyRequestSchema = z
  .object({
    model: z.string().nullish().describe('accepted and not checked: the served model answers (its name is echoed back)'),
    input: z
      .union([z.string(), z.array(z.string()).min(1)], {
        error: 'expected a string or a non-empty list of strings (token ids are not supported)',
      })
      .describe('text(s) already rendered with the chat template; each is scored as raw text'),
    use_activation: ActivationSchema.describe('false: probs = [raw reward]; true or omitted: [sigmoid(reward)]'),
    activation: ActivationSchema.describe('deprecated vLLM name of use_activation (older verl sends it)'),
    softmax: ActivationSchema.describe('deprecated vLLM name of use_activation'),
  })
  .meta({ id: 'ClassifyRequest', description: 'other vLLM fields (user, priority, truncate_prompt_tokens, ...) are ignored' });

export const ClassifyResponseSchema = z
  .object({
    id: z.string(),
    object: z.literal('list'),
    created: z.int().describe('unix seconds'),
    model: z.string(),
    data: z.array(
      z.object({
        index: z.int(),
        label: z.string().nullable(),
        probs: z.array(z.number()).describe('one class: [reward] or [sigmoid(reward)]'),
        num_classes: z.int(),
      }),
    ),
    usage: z.object({
      prompt_tokens: z.int(),
      total_tokens: z.int(),
      completion_tokens: z.int(),
      prompt_tokens_details: z.null(),
    }),
  })
  .meta({ id: 'ClassifyResponse' });

/** vLLM's get_use_activation: the deprecated `softmax`, then `activation`, then `use_activation`; on by default. */
function useActivation(body: { use_activation?: boolean | null; activation?: boolean | null; softmax?: boolean | null }): boolean {
  return body.softmax ?? body.activation ?? body.use_activation ?? true;
}

/** Register the route. */
export function vllmRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/classify',
    {
      errorHandler: compatErrorHandler(ctx, VLLM_STATUSES),
      preValidation: ctx.admission.bounds({ lists: [{ field: 'input', limit: 'max_items_per_request' }] }),
      schema: {
        summary: 'vLLM /classify (verl reward loop)',
        description:
          'One entry per input with probs = [reward] (use_activation: false, what verl sends) or [sigmoid(reward)] (vLLM\'s default). Request errors are 400 as in vLLM.',
        tags: ['compatibility'],
        body: ClassifyRequestSchema,
        response: { 200: ClassifyResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleClassify(ctx, request.body, reply),
  );
}

/** Score each `input` text as raw text and answer in vLLM's classification format. */
async function handleClassify(ctx: ServerContext, body: z.output<typeof ClassifyRequestSchema>, reply: FastifyReply) {
  const texts = typeof body.input === 'string' ? [body.input] : body.input;
  const activate = useActivation(body);
  const { info, result } = await scoreCompat(ctx, reply, texts.map((text) => ({ text })), { field: 'input', truncate: true });
  const tokens = result.items.reduce((n, item) => n + item.tokens, 0);
  return {
    id: `classify-${randomUUID().replaceAll('-', '')}`,
    object: 'list' as const,
    created: Math.floor(Date.now() / 1000),
    model: info.name,
    data: result.items.map((item, index) => ({
      index,
      label: 'LABEL_0',
      probs: [activate ? sigmoid(item.reward) : item.reward],
      num_classes: 1,
    })),
    usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0, prompt_tokens_details: null },
  };
}

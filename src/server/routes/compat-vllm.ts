/**
 * POST /classify in the wire format of vLLM's pooling classification API, which verl's reward
 * loop calls for a discriminative reward model and reads as `data[-1].probs[-1]`, and of
 * SGLang's native /classify, which verl's legacy SGLang reward model posts token ids to
 * ({"input_ids": [[...], ...]}) and reads as `output[i]["embedding"][-1]`.
 * Followed: vllm-project/vllm vllm/entrypoints/pooling/classify/protocol.py
 * (ClassificationCompletionRequest, ClassificationData, ClassificationResponse),
 * vllm/entrypoints/pooling/base/protocol.py (ClassifyRequestMixin: `use_activation`, and the
 * deprecated `activation` / `softmax`, default on) and the classifier activation in
 * vllm/model_executor/layers/pooler (PoolerClassify: sigmoid when there are fewer than 2
 * labels); verl/experimental/reward_loop/reward_loop.py (`compute_score_disrm` posts
 * {"model", "input", "use_activation": false}, older releases "activation": false).
 * So verl gets the raw reward, and a vLLM client that leaves the activation on gets sigmoid(reward).
 * SGLang: sgl-project/sglang python/sglang/srt/entrypoints/http_server.py (`classify_request`
 * takes an EmbeddingReqInput: `text` or `input_ids`, one or a list; answers one
 * {"embedding", "meta_info"} per input, a list for a list) and verl
 * verl/workers/reward_model/sglang_reward_model.py (`compute_reward`, `_post_process_outputs`).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { sigmoid } from '../activation.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema } from '../../api/schemas.js';
import { compatErrorHandler, scoreCompat, type StatusMap } from './compat-scoring.js';
import { PoolingInputSchema, PoolingTruncationShape, poolingItems, poolingMaxTokens, poolingPath, type PoolingInput } from './pooling-input.js';

/** vLLM and SGLang answer request errors with 400; verl retries 5xx (16 times, backing off) and never 4xx. */
export const VLLM_STATUSES: StatusMap = {
  malformed_json: 400,
  validation_error: 400,
  payload_too_large: 400,
  unsupported_media_type: 400,
};

const ActivationSchema = z.boolean().nullish();

export const ClassifyRequestSchema = z
  .object({
    model: z.string().nullish().describe('accepted and not checked: the served model answers (its name is echoed back)'),
    input: PoolingInputSchema.optional().describe(
      "vLLM: text(s) already rendered with the chat template (scored as raw text) or token ids (scored as given)",
    ),
    use_activation: ActivationSchema.describe('false: probs = [raw reward]; true or omitted: [sigmoid(reward)]'),
    activation: ActivationSchema.describe('deprecated vLLM name of use_activation (older verl sends it)'),
    softmax: ActivationSchema.describe('deprecated vLLM name of use_activation'),
    ...PoolingTruncationShape,
    text: z
      .union([z.string(), z.array(z.string()).min(1)], { error: 'expected a string or a non-empty list of strings' })
      .optional()
      .describe('SGLang: text(s) scored as raw text; answered in SGLang\'s format'),
    input_ids: PoolingInputSchema.optional().describe("SGLang: token ids or token-id lists (verl's legacy SGLang reward model); answered in SGLang's format"),
  })
  .superRefine((body, ctx) => {
    const given = (['input', 'text', 'input_ids'] as const).filter((key) => body[key] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', path: given.length === 0 ? ['input'] : [given[1]], message: given.length === 0 ? 'is required (or SGLang\'s text or input_ids)' : `send one of input (vLLM), text or input_ids (SGLang), not ${given.join(' and ')}` });
    }
  })
  .meta({ id: 'ClassifyRequest', description: 'vLLM\'s request ({"input", ...}) or SGLang\'s ({"text"} or {"input_ids"}); other fields (user, priority, ...) are ignored' });

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

/** SGLang's answer for one input: the reward as a one-value embedding, and the tokens scored. */
const SglangOutputSchema = z.object({
  embedding: z.array(z.number()).describe('[reward], the raw reward (verl reads embedding[-1])'),
  meta_info: z.object({ id: z.string(), prompt_tokens: z.int() }),
});

export const SglangClassifyResponseSchema = z
  .union([SglangOutputSchema, z.array(SglangOutputSchema)])
  .describe('SGLang: one output for one text or id list, a list for a list')
  .meta({ id: 'SglangClassifyResponse' });

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
      preValidation: ctx.admission.bounds({ lists: ['input', 'text', 'input_ids'].map((field) => ({ field, limit: 'max_items_per_request' as const, ids: true })) }),
      schema: {
        summary: 'vLLM /classify (verl reward loop) and SGLang /classify (verl legacy SGLang reward model)',
        description:
          'vLLM: one entry per input with probs = [reward] (use_activation: false, what verl sends) or [sigmoid(reward)] (vLLM\'s default). SGLang ({"text"} or {"input_ids"}): one {"embedding": [reward]} per input. Request errors are 400 as in vLLM and SGLang.',
        tags: ['compatibility'],
        body: ClassifyRequestSchema,
        response: { 200: z.union([ClassifyResponseSchema, SglangClassifyResponseSchema]), '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleClassify(ctx, request.body, reply),
  );
}

/** Score each input (texts as raw text, ids as given) and answer in vLLM's or SGLang's classification format. */
async function handleClassify(ctx: ServerContext, body: z.output<typeof ClassifyRequestSchema>, reply: FastifyReply) {
  const field = body.input !== undefined ? 'input' : body.text !== undefined ? 'text' : 'input_ids';
  const { items, single } = poolingItems((body.input ?? body.text ?? body.input_ids) as PoolingInput);
  const maxTokens = poolingMaxTokens(body);
  const { info, result } = await scoreCompat(ctx, reply, items, { field, truncate: true, maxTokens, pathOf: poolingPath(field, single) });
  if (field !== 'input') {
    const outputs = result.items.map((item) => ({ embedding: [item.reward], meta_info: { id: randomUUID().replaceAll('-', ''), prompt_tokens: item.tokens } }));
    return single ? outputs[0] : outputs;
  }
  const activate = useActivation(body);
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

/**
 * POST /v1/embeddings in OpenAI's embeddings format, as SGLang serves it for a reward model:
 * verl's reward loop with an SGLang reward engine posts {"model", "input"} and reads
 * `data[-1]["embedding"][-1]` as the reward, so each embedding is [reward] (the raw reward).
 * Followed: verl/experimental/reward_loop/reward_loop.py (`compute_score_disrm`, engine
 * "sglang"), sgl-project/sglang's OpenAI-compatible embeddings route (EmbeddingRequest: `input`
 * a text, texts, token ids or token-id lists; EmbeddingResponse: data[{embedding, index,
 * object}], model, object "list", usage.prompt_tokens) and the OpenAI reference (`encoding_format`
 * float or base64: little-endian float32 bytes, what the openai Python client asks for by default).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema } from '../../api/schemas.js';
import { compatErrorHandler, scoreCompat } from './compat-scoring.js';
import { VLLM_STATUSES } from './compat-vllm.js';
import { PoolingInputSchema, PoolingTruncationShape, poolingItems, poolingMaxTokens, poolingPath } from './pooling-input.js';

export const EmbeddingsRequestSchema = z
  .object({
    model: z.string().nullish().describe('accepted and not checked: the served model answers (its name is echoed back)'),
    input: PoolingInputSchema,
    encoding_format: z.enum(['float', 'base64']).default('float').describe('float: embedding is [reward]; base64: the reward as one little-endian float32, base64-encoded'),
    dimensions: z.int().min(1).nullish().describe('accepted and not used: the embedding has one dimension'),
    user: z.string().nullish(),
    ...PoolingTruncationShape,
  })
  .meta({ id: 'EmbeddingsRequest', description: 'other fields are ignored' });

export const EmbeddingsResponseSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        object: z.literal('embedding'),
        index: z.int(),
        embedding: z.union([z.array(z.number()), z.string()]).describe('[reward] (the raw reward), or its base64 float32'),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.int(), total_tokens: z.int() }),
  })
  .meta({ id: 'EmbeddingsResponse' });

/** Register the route. */
export function embeddingsRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/v1/embeddings',
    {
      errorHandler: compatErrorHandler(ctx, VLLM_STATUSES),
      preValidation: ctx.admission.bounds({ lists: [{ field: 'input', limit: 'max_items_per_request', ids: true }] }),
      schema: {
        summary: 'OpenAI / SGLang /v1/embeddings (verl reward loop with an SGLang reward engine)',
        description:
          'One entry per input whose embedding is [reward], the raw reward: verl reads data[-1].embedding[-1]. Texts are scored as raw text, token ids as given. Request errors are 400 as in SGLang.',
        tags: ['compatibility'],
        body: EmbeddingsRequestSchema,
        response: { 200: EmbeddingsResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleEmbeddings(ctx, request.body, reply),
  );
}

/** Score each input and answer with one [reward] embedding per input. */
async function handleEmbeddings(ctx: ServerContext, body: z.output<typeof EmbeddingsRequestSchema>, reply: FastifyReply) {
  const { items, single } = poolingItems(body.input);
  const maxTokens = poolingMaxTokens(body);
  const { info, result } = await scoreCompat(ctx, reply, items, { field: 'input', truncate: true, maxTokens, pathOf: poolingPath('input', single) });
  const tokens = result.items.reduce((n, item) => n + item.tokens, 0);
  const base64 = body.encoding_format === 'base64';
  return {
    object: 'list' as const,
    data: result.items.map((item, index) => ({
      object: 'embedding' as const,
      index,
      embedding: base64 ? Buffer.from(Float32Array.of(item.reward).buffer).toString('base64') : [item.reward],
    })),
    model: info.name,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

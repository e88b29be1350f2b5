/**
 * POST /tokenize in vLLM's shape: the token ids the server scores for one input, so a trainer
 * that sends ids (`{"input_ids"}` on /v1/score, ids on /classify and /v1/embeddings) sends the
 * ones the model reads, and gets the same reward as for the text. The ids are the scored ones:
 * special tokens, ensure_eos and the cut to max_length applied.
 * Followed: vllm-project/vllm vllm/entrypoints/serve/tokenize/protocol.py (TokenizeCompletionRequest
 * {"prompt", "add_special_tokens", "return_token_strs"}, TokenizeChatRequest {"messages", ...},
 * TokenizeResponse {"count", "max_model_len", "tokens", "token_strs"}). vLLM's `prompt` is a text
 * scored as raw text; warm-serve also takes {"prompt", "completion"} (the model's template).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { WarmServeError } from '../../errors.js';
import type { ScoreInput } from '../../scoring/types.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema, LooseMessageSchema } from '../../api/schemas.js';
import { compatErrorHandler } from './compat-scoring.js';
import { VLLM_STATUSES } from './compat-vllm.js';

const unused = (what: string) => z.unknown().optional().describe(`accepted and not used: ${what}`);

export const TokenizeRequestSchema = z
  .object({
    model: z.string().nullish().describe('accepted and not checked'),
    prompt: z.string().optional().describe('vLLM: a text, tokenized as raw text (a /v1/score {"text"} item); with completion: the prompt of a {"prompt", "completion"} item'),
    completion: z.string().optional().describe("with prompt: tokenized as {prompt, completion} through the model's template"),
    messages: z.array(LooseMessageSchema).min(1).optional().describe("a chat, through the tokenizer's chat template (a {\"messages\"} item)"),
    return_token_strs: z.boolean().nullish().describe("true: also return token_strs, each id's vocabulary piece"),
    add_special_tokens: unused("the ids are those warm-serve scores (the model's special tokens once)"),
    add_generation_prompt: unused('a chat is scored as it is, without a generation prompt'),
  })
  .superRefine((body, ctx) => {
    if ((body.prompt === undefined) === (body.messages === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: body.prompt === undefined ? 'is required (or messages)' : 'send prompt or messages, not both' });
    } else if (body.completion !== undefined && body.prompt === undefined) {
      ctx.addIssue({ code: 'custom', path: ['completion'], message: 'goes with prompt, not messages' });
    }
  })
  .meta({ id: 'TokenizeRequest', description: 'vLLM\'s {"prompt"} or {"messages"}, or {"prompt", "completion"}; other fields are ignored' });

export const TokenizeResponseSchema = z
  .object({
    count: z.int().describe('len(tokens)'),
    max_model_len: z.int().describe("the model's max_length"),
    tokens: z.array(z.int()).describe('the ids scored for this input, in order: send them as input_ids for the same reward'),
    truncated: z.boolean().describe('the input was longer than max_length and lost its start'),
    token_strs: z.array(z.string()).optional().describe('with return_token_strs: the vocabulary piece of each id'),
  })
  .meta({ id: 'TokenizeResponse' });

/** The request as the one item it describes. */
function toItem(body: z.output<typeof TokenizeRequestSchema>): ScoreInput {
  if (body.messages) return { messages: body.messages };
  return body.completion === undefined ? { text: body.prompt! } : { prompt: body.prompt!, completion: body.completion };
}

/** Register the route. */
export function tokenizeRoute(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/tokenize',
    {
      errorHandler: compatErrorHandler(ctx, VLLM_STATUSES),
      schema: {
        summary: 'vLLM /tokenize: the token ids scored for one input',
        description:
          'The ids the model reads for a text, a {prompt, completion} pair or a chat (special tokens, ensure_eos and truncation applied): scoring them as input_ids gives the same reward. Request errors are 400 as in vLLM.',
        tags: ['compatibility'],
        body: TokenizeRequestSchema,
        response: { 200: TokenizeResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleTokenize(ctx, request.body, reply),
  );
}

/** Format and tokenize the input as scoring would, and answer with its ids. */
async function handleTokenize(ctx: ServerContext, body: z.output<typeof TokenizeRequestSchema>, reply: FastifyReply) {
  const service = ctx.admission.service();
  const item = toItem(body);
  const field = body.messages ? 'messages' : 'prompt';
  ctx.admission.checkItem(item, field);
  reply.request.outcome.items = 1;
  let ids: Int32Array;
  let truncated: boolean;
  try {
    [{ ids, truncated }] = await service.tokenize([item]);
  } catch (err) {
    // The chat template's problems are named by the request's field (`messages`, not `items[0].messages`).
    if (err instanceof WarmServeError && err.type === 'validation_error' && err.index !== undefined) throw err.relabel({ field });
    throw err;
  }
  const tokens = Array.from(ids);
  return {
    count: tokens.length,
    max_model_len: service.info.max_length,
    tokens,
    truncated,
    ...(body.return_token_strs ? { token_strs: service.tokenStrings(ids) } : {}),
  };
}

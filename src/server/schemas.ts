/**
 * The wire format of the native API, as zod schemas. The same objects validate requests
 * (fastify-type-provider-zod), compile the response serialisers (fast-json-stringify) and
 * become the OpenAPI document, so the docs cannot drift from what the server does.
 * Request objects are strict: a misspelt field is a 422 naming it, not a silent default.
 */
import { z } from 'zod';
import { BatchingOptionsSchema } from '../batching/options.js';

const MessageSchema = z
  .strictObject({
    role: z.string().min(1).describe('e.g. "system", "user", "assistant"'),
    content: z.string(),
  })
  .meta({ id: 'Message' });

export const PromptCompletionItemSchema = z
  .strictObject({
    prompt: z.string(),
    completion: z.string(),
  })
  .meta({ id: 'PromptCompletionItem', description: "formatted with the model's template (warm.json)" });

export const ChatItemSchema = z
  .strictObject({ messages: z.array(MessageSchema).min(1) })
  .meta({ id: 'ChatItem', description: "formatted with the tokenizer's chat template" });

export const TextItemSchema = z
  .strictObject({ text: z.string() })
  .meta({ id: 'TextItem', description: 'fed to the tokenizer as it is' });

/** One item to score; the three shapes of `ScoreInput`. */
export const ScoreItemSchema = z
  .union([PromptCompletionItemSchema, ChatItemSchema, TextItemSchema])
  .meta({ id: 'ScoreItem' });

const TruncateSchema = z
  .boolean()
  .default(true)
  .describe("true: items longer than the model's max_length are truncated (and flagged); false: they get 422");

export const ScoreRequestSchema = z
  .strictObject({
    items: z
      .array(ScoreItemSchema)
      .min(1)
      .describe('at most max_items_per_request items (413 beyond), each at most max_chars_per_item characters'),
    truncate: TruncateSchema,
  })
  .meta({ id: 'ScoreRequest' });

export const TimingsSchema = z
  .object({
    tokenize_ms: z.number(),
    queue_ms: z.number().describe('longest wait of one of the items before its batch started'),
    inference_ms: z.number().describe('forward passes that carried the items'),
    total_ms: z.number().describe('from request received to response ready'),
  })
  .meta({ id: 'Timings' });

export const ScoreResponseSchema = z
  .object({
    model: z.string(),
    rewards: z.array(z.number()).describe('one per item, in request order; higher is better'),
    truncated: z.array(z.boolean()).describe('whether each item was cut to max_length'),
    tokens: z.array(z.int()).describe('tokens fed to the model per item, special tokens included'),
    timings: TimingsSchema,
  })
  .meta({ id: 'ScoreResponse' });

export const RankRequestSchema = z
  .strictObject({
    prompt: z.string(),
    completions: z.array(z.string()).min(1).describe('at most max_completions_per_rank (413 beyond)'),
    top_k: z.int().min(1).optional().describe('return only the best k (default: all; more than there are: all)'),
    truncate: TruncateSchema,
  })
  .meta({ id: 'RankRequest' });

export const RankResponseSchema = z
  .object({
    model: z.string(),
    ranking: z
      .array(z.object({ index: z.int(), reward: z.number(), truncated: z.boolean() }))
      .describe('best first; index into completions; ties keep request order'),
    best_index: z.int(),
    rewards: z.array(z.number()).describe('every completion, in request order'),
    timings: TimingsSchema,
  })
  .meta({ id: 'RankResponse' });

export const InfoResponseSchema = z
  .object({
    model: z.string(),
    path: z.string(),
    version: z.string().describe('warm-serve version'),
    max_length: z.int(),
    padding_side: z.enum(['left', 'right']),
    members: z.array(z.object({ name: z.string(), path: z.string() })),
    merge: z.record(z.string(), z.unknown()).optional().describe('provenance written by warm-serve merge'),
    execution_provider: z.string(),
    inputs: z.array(z.string()),
    batching: BatchingOptionsSchema.describe('the dynamic batcher settings in force'),
    limits: z.object({
      body_limit_bytes: z.int(),
      max_items_per_request: z.int(),
      max_completions_per_rank: z.int(),
      max_chars_per_item: z.int(),
    }),
  })
  .meta({ id: 'InfoResponse' });

export const HealthResponseSchema = z.object({ status: z.literal('ok') }).meta({ id: 'HealthResponse' });

export const ReadyResponseSchema = z
  .object({ status: z.enum(['starting', 'ready', 'draining']) })
  .meta({ id: 'ReadyResponse' });

/** Every error body, whatever the status. */
export const ErrorResponseSchema = z
  .object({
    error: z.string().describe('what went wrong and how to fix it'),
    error_type: z.string().describe('stable machine-readable kind, e.g. validation_error, overloaded'),
    request_id: z.string().describe('echoes x-request-id when sent; quote it when reporting a problem'),
  })
  .meta({ id: 'Error' });

export type ScoreRequest = z.infer<typeof ScoreRequestSchema>;
export type RankRequest = z.infer<typeof RankRequestSchema>;

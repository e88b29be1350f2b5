/**
 * The wire contract of the native API, as zod schemas shared by the server, the client
 * (src/client/types.ts, types only) and the CLI (src/cli/score.ts validates input lines).
 * In the server the same objects validate requests (fastify-type-provider-zod), compile the
 * response serialisers (fast-json-stringify) and become the OpenAPI document, so the docs
 * cannot drift from what the server does. This module loads neither fastify nor onnxruntime.
 * Request objects are strict: a misspelt field is a 422 naming it, not a silent default.
 */
import { z } from 'zod';
import { AGGREGATES } from '../scoring/aggregate.js';
import { NORMALIZATIONS } from '../scoring/advantages.js';
import { BatchingOptionsSchema } from '../batching/options.js';

const MessageSchema = z
  .strictObject({
    role: z.string().min(1).describe('e.g. "system", "user", "assistant"'),
    content: z.string(),
  })
  .meta({ id: 'Message' });

/** A chat message as trainers keep it (compatibility routes: extra keys such as `name` reach the chat template as they are). */
export const LooseMessageSchema = z.looseObject({ role: z.string().min(1), content: z.string() });

export const PromptCompletionItemSchema = z
  .strictObject({
    prompt: z.string(),
    completion: z.string(),
  })
  .meta({ id: 'PromptCompletionItem', description: "formatted with the model's template (warm.json)" });

export const ChatItemSchema = z
  .strictObject({ messages: z.array(MessageSchema).min(1).describe('at most max_messages_per_item messages (413 beyond)') })
  .meta({ id: 'ChatItem', description: "formatted with the tokenizer's chat template" });

export const TextItemSchema = z
  .strictObject({ text: z.string() })
  .meta({ id: 'TextItem', description: 'fed to the tokenizer as it is' });

/**
 * A non-empty list of token ids (integers >= 0), checked in one loop: zod's per-element array
 * checks cost ~0.2 µs an id (230 ms for a million), this ~10 ns. The JSON Schema is given as meta.
 */
export const TokenIdsSchema = z
  // A failed custom check ends the branch like a type error, so a union names the branch the item meant.
  .custom<number[]>((ids) => Array.isArray(ids) && ids.length > 0, { error: 'expected a non-empty list of token ids (integers >= 0)' })
  .superRefine((ids, ctx) => {
    const bad = ids.findIndex((id) => !Number.isSafeInteger(id) || id < 0);
    if (bad >= 0) ctx.addIssue({ code: 'custom', path: [bad], message: `expected a token id (an integer >= 0), got ${JSON.stringify(ids[bad])}` });
  })
  .meta({ type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 });

export const TokenIdsItemSchema = z
  .strictObject({
    input_ids: TokenIdsSchema.describe(
      "token ids of the model's tokenizer, scored as given: no template, no special tokens added, cut from the left past max_length; at most max_ids_per_item (413 beyond). POST /tokenize gives the ids the server scores for a text",
    ),
  })
  .meta({ id: 'TokenIdsItem', description: 'token ids scored as they are' });

/** One item to score; the shapes of `ScoreInput`. */
export const ScoreItemSchema = z
  .union([PromptCompletionItemSchema, ChatItemSchema, TextItemSchema, TokenIdsItemSchema])
  .meta({ id: 'ScoreItem' });

const TruncateSchema = z
  .boolean()
  .default(true)
  .describe("true: items longer than the model's max_length are truncated (and flagged); false: they get 422");

const AggregateSchema = z
  .enum(AGGREGATES)
  .default('warm')
  .describe(
    "which reward `rewards` holds: warm = the merged model's; with the server in ensemble mode (--ensemble) also mean = mean of the members' rewards, min = their minimum, uwo = mean − λ·variance (λ = uwo_lambda in /v1/info); non-warm without --ensemble is a 422",
  )
  .meta({ id: 'Aggregate' });

const ReturnHeadsSchema = z
  .boolean()
  .default(false)
  .describe("true: also return `heads`, each item's output row (one value per head in /v1/info head_names, before head_weights and normalisation)");

const ReturnMembersSchema = z
  .boolean()
  .default(false)
  .describe('true: also return `members` (each member\'s rewards) and `uncertainty` (their population variance); needs --ensemble (422 otherwise)');

export const ScoreRequestSchema = z
  .strictObject({
    items: z
      .array(ScoreItemSchema)
      .min(1)
      .describe('at most max_items_per_request items (413 beyond), each at most max_chars_per_item characters'),
    truncate: TruncateSchema,
    aggregate: AggregateSchema,
    return_members: ReturnMembersSchema,
    return_heads: ReturnHeadsSchema,
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

/** One member's rewards for every item of a request. */
export const MemberRewardsSchema = z
  .object({
    name: z.string().describe('member name, as listed in warm.json and /v1/info'),
    rewards: z.array(z.number()).describe("this member's (normalised) reward per item, in request order"),
  })
  .meta({ id: 'MemberRewards' });

const MembersSchema = z
  .array(MemberRewardsSchema)
  .optional()
  .describe('with return_members: one entry per member, in /v1/info ensemble.members order; members[k].rewards[i] is member k on item i');

const HeadsSchema = z
  .array(z.array(z.number()))
  .optional()
  .describe("with return_heads: per item (request order), the model's output row: heads[i][h] is head h (/v1/info head_names) on item i");

const UncertaintySchema = z
  .array(z.number())
  .optional()
  .describe("with return_members: per item, the population variance (divided by M, not M − 1) of the members' rewards, in request order");

export const ScoreResponseSchema = z
  .object({
    model: z.string(),
    aggregate: z.enum(AGGREGATES).describe('the aggregate `rewards` holds'),
    rewards: z.array(z.number()).describe('one per item, in request order; higher is better'),
    truncated: z.array(z.boolean()).describe('whether each item was cut to max_length'),
    tokens: z.array(z.int()).describe('tokens fed to the model per item, special tokens included'),
    members: MembersSchema,
    uncertainty: UncertaintySchema,
    heads: HeadsSchema,
    timings: TimingsSchema,
  })
  .meta({ id: 'ScoreResponse' });

export const RankRequestSchema = z
  .strictObject({
    prompt: z.string(),
    completions: z.array(z.string()).min(1).describe('at most max_completions_per_rank (413 beyond)'),
    top_k: z.int().min(1).optional().describe('return only the best k (default: all; more than there are: all)'),
    truncate: TruncateSchema,
    aggregate: AggregateSchema,
    return_members: ReturnMembersSchema,
    return_heads: ReturnHeadsSchema,
    normalize: z
      .enum(NORMALIZATIONS)
      .default('none')
      .describe(
        "group: also return `advantages`, GRPO's group-normalised rewards (reward − mean) / (std + 1e-4) over the completions, std the sample standard deviation (N − 1, torch.std's default, as TRL, verl and OpenRLHF compute it; 0 for one completion)",
      ),
  })
  .meta({ id: 'RankRequest' });

export const RankResponseSchema = z
  .object({
    model: z.string(),
    aggregate: z.enum(AGGREGATES).describe('the aggregate that rewards and ranks'),
    ranking: z
      .array(
        z.object({
          index: z.int(),
          reward: z.number(),
          truncated: z.boolean(),
          uncertainty: z.number().optional().describe("with return_members: the members' population variance"),
        }),
      )
      .describe('best first by the aggregate reward; index into completions; ties keep request order'),
    best_index: z.int(),
    rewards: z.array(z.number()).describe('every completion, in request order'),
    advantages: z.array(z.number()).optional().describe('with normalize: group, each completion\'s group-normalised reward, in request order'),
    members: MembersSchema,
    uncertainty: UncertaintySchema,
    heads: HeadsSchema,
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
    prefix_sharing: z
      .object({
        enabled: z.boolean().describe('whether items sharing a prefix run it once (a graph that takes past_key_values, and prefix_sharing auto)'),
        min_tokens: z.int().optional().describe('shortest shared prefix that is run once (prefix_min_tokens)'),
        cache_mb: z.number().optional().describe('bound of all the prefix caches together, MiB (prefix_cache_mb)'),
      })
      .describe('group scoring: the shared prompt of a group is computed once'),
    reward_cache: z.object({ items: z.int().describe('most rewards kept for exact duplicates (reward_cache_items; 0 = off)') }),
    head_names: z.array(z.string()).describe("the model's output columns (heads), warm.json head_names, else head_0, head_1, ...; return_heads gives one value per name"),
    head_weights: z.array(z.number()).optional().describe('warm.json head_weights: reward = head_weights · heads (absent: the reward is head 0)'),
    ensemble: z
      .object({
        enabled: z.boolean().describe('whether the server runs in ensemble mode (--ensemble)'),
        members: z.array(z.string()).describe('members loaded beside the model (empty when not enabled)'),
        uwo_lambda: z.number().describe('λ of the uwo aggregate, mean − λ·variance'),
      })
      .describe('member output and the mean / min / uwo aggregates need enabled = true'),
    batching: BatchingOptionsSchema.describe('the dynamic batcher settings in force'),
    limits: z.object({
      body_limit_bytes: z.int(),
      max_items_per_request: z.int(),
      max_completions_per_rank: z.int(),
      max_chars_per_item: z.int(),
      max_ids_per_item: z.int(),
      max_messages_per_item: z.int(),
      max_json_depth: z.int(),
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

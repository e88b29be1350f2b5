/**
 * POST /predict and POST /rerank in the wire format of HuggingFace text-embeddings-inference,
 * so TEI clients can use warm-serve as a sequence-classification / re-ranker server.
 * Followed: huggingface/text-embeddings-inference router/src/http/types.rs (PredictRequest,
 * PredictInput, RerankRequest, Rank) and router/src/http/server.rs (`predict`, `rerank`), and
 * the status of each error type in router/src/lib.rs.
 *
 * A pair [first, second] is formatted as {prompt: first, completion: second} through the
 * model's template (TEI feeds a pair to the tokenizer as two segments; a reward model reads one
 * prompt + completion text). /rerank scores {prompt: query, completion: text} for every text,
 * which is best-of-N. A single logit goes through a sigmoid unless `raw_scores` is true, as TEI
 * does for a one-label classifier.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { errors } from '../../errors.js';
import type { ScoreInput } from '../../scoring/types.js';
import { sigmoid } from '../activation.js';
import type { ServerContext, ZodApp } from '../context.js';
import { ErrorResponseSchema } from '../../api/schemas.js';
import { compatErrorHandler, scoreCompat, type StatusMap } from './compat-scoring.js';

/** TEI's label for the only class of a one-logit model without id2label (transformers' default). */
const LABEL = 'LABEL_0';

/** router/src/lib.rs: Overloaded 429, Validation 413, Tokenizer 422, Backend 424, Unhealthy 503, Empty 400. */
const TEI_STATUSES: StatusMap = {
  overloaded: 429,
  queue_timeout: 429,
  engine_error: 424,
};

const TruncateSchema = z
  .boolean()
  .nullish()
  .describe("true or omitted: texts longer than the model's max_length keep their end; false: 413 instead");

const TruncationDirectionSchema = z
  .enum(['Left', 'Right', 'left', 'right'])
  .optional()
  .describe("warm-serve always drops the start of an over-long text so the completion is scored: only 'Left' is accepted");

const RawScoresSchema = z.boolean().default(false).describe('true: the raw reward; false: sigmoid(reward)');

const SequenceSchema = z.union([z.tuple([z.string()]), z.tuple([z.string(), z.string()])]);

export const TeiPredictRequestSchema = z
  .object({
    inputs: z
      .union([z.string(), SequenceSchema, z.array(SequenceSchema).min(1)], {
        error: 'expected a string, a pair [string, string], or a batch [[string] or [string, string], ...]',
      })
      .describe('a string (scored as is), a pair [prompt, completion], or a batch of [string] / [prompt, completion]'),
    truncate: TruncateSchema,
    truncation_direction: TruncationDirectionSchema,
    raw_scores: RawScoresSchema,
  })
  .meta({ id: 'TeiPredictRequest' });

const PredictionSchema = z.object({ score: z.number(), label: z.string() }).meta({ id: 'TeiPrediction' });

export const TeiPredictResponseSchema = z
  .union([z.array(PredictionSchema), z.array(z.array(PredictionSchema))])
  .describe('one [{score, label}] for a single input; a list of those for a batch')
  .meta({ id: 'TeiPredictResponse' });

export const TeiRerankRequestSchema = z
  .object({
    query: z.string().describe('the prompt'),
    texts: z.array(z.string()).describe('the completions to rank (not empty; at most max_completions_per_rank, 413 beyond)'),
    truncate: TruncateSchema,
    truncation_direction: TruncationDirectionSchema,
    raw_scores: RawScoresSchema,
    return_text: z.boolean().default(false).describe('true: echo each text in its entry'),
  })
  .meta({ id: 'TeiRerankRequest' });

export const TeiRerankResponseSchema = z
  .array(z.object({ index: z.int(), text: z.string().optional(), score: z.number() }))
  .describe('best first; index into texts')
  .meta({ id: 'TeiRerankResponse' });

/** A TEI sequence as a score item: one text as is, a pair through the model's template. */
function toItem(sequence: string | string[]): ScoreInput {
  if (typeof sequence === 'string') return { text: sequence };
  return sequence.length === 1 ? { text: sequence[0] } : { prompt: sequence[0], completion: sequence[1] };
}

/** 422 for a truncation direction warm-serve cannot honour. */
function checkDirection(direction: string | undefined): void {
  if (direction !== undefined && direction.toLowerCase() === 'right') {
    throw errors.validation(
      'truncation_direction',
      "'Right' is not supported: warm-serve keeps the end of an over-long text (the completion) and drops its start; send 'Left' or omit the field",
    );
  }
}

/** Catalogue errors as TEI answers them; an over-long input with truncate: false is TEI's 413 validation error. */
function teiErrors(ctx: ServerContext) {
  return compatErrorHandler(ctx, TEI_STATUSES);
}

/** Register /predict and /rerank. */
export function teiRoutes(app: ZodApp, ctx: ServerContext): void {
  app.post(
    '/predict',
    {
      errorHandler: teiErrors(ctx),
      preValidation: ctx.admission.bounds({ lists: [{ field: 'inputs', limit: 'max_items_per_request' }] }),
      schema: {
        summary: 'text-embeddings-inference /predict',
        description:
          'Scores a string, a [prompt, completion] pair or a batch of them. Each answer is [{"score", "label": "LABEL_0"}]; score = sigmoid(reward) unless raw_scores.',
        tags: ['compatibility'],
        body: TeiPredictRequestSchema,
        response: { 200: TeiPredictResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handlePredict(ctx, request.body, reply),
  );

  app.post(
    '/rerank',
    {
      errorHandler: teiErrors(ctx),
      // A rerank is a best-of-N over one query: the same limit as /v1/rank's completions.
      preValidation: ctx.admission.bounds({ lists: [{ field: 'texts', limit: 'max_completions_per_rank' }] }),
      schema: {
        summary: 'text-embeddings-inference /rerank (best-of-N)',
        description:
          'Scores {prompt: query, completion: text} for every text and returns them best first; score = sigmoid(reward) unless raw_scores.',
        tags: ['compatibility'],
        body: TeiRerankRequestSchema,
        response: { 200: TeiRerankResponseSchema, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema },
      },
    },
    (request, reply) => handleRerank(ctx, request.body, reply),
  );
}

/** Score a string, a pair or a batch of them and answer with TEI's [{score, label}] per input. */
async function handlePredict(ctx: ServerContext, body: z.output<typeof TeiPredictRequestSchema>, reply: FastifyReply) {
  const { inputs, truncate, truncation_direction, raw_scores } = body;
  checkDirection(truncation_direction);
  // TEI's own reading of `inputs`: a string or an array of strings is one input, an array of arrays a batch.
  const batch = Array.isArray(inputs) && Array.isArray(inputs[0]) ? (inputs as string[][]) : undefined;
  const sequences = batch ?? [inputs as string | string[]];
  const { result } = await scoreCompat(ctx, reply, sequences.map(toItem), { field: 'inputs', truncate: truncate ?? true, tooLongAs: 'payload_too_large' });
  const predictions = result.items.map((item) => [{ score: raw_scores ? item.reward : sigmoid(item.reward), label: LABEL }]);
  return batch ? predictions : predictions[0];
}

/** Score {prompt: query, completion: text} for every text and answer with them best first. */
async function handleRerank(ctx: ServerContext, body: z.output<typeof TeiRerankRequestSchema>, reply: FastifyReply) {
  const { query, texts, truncate, truncation_direction, raw_scores, return_text } = body;
  checkDirection(truncation_direction);
  if (texts.length === 0) throw errors.badRequest('texts: cannot be empty; send at least one text to rank');
  const items = texts.map((completion) => ({ prompt: query, completion }));
  const { result } = await scoreCompat(ctx, reply, items, { field: 'texts', truncate: truncate ?? true, tooLongAs: 'payload_too_large' });
  return result.items
    .map((item, index) => ({
      index,
      ...(return_text ? { text: texts[index] } : {}),
      score: raw_scores ? item.reward : sigmoid(item.reward),
    }))
    // Array.prototype.sort is stable, so equal scores keep request order.
    .sort((a, b) => b.score - a.score);
}

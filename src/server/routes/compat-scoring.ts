/**
 * What the compatibility routes share: admit a list of items under the field name the foreign
 * API uses, score them through the same batching queue as /v1/score, and answer errors with
 * the status codes the foreign clients expect (keeping warm-serve's one error body).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WarmServeError, type ErrorType } from '../../errors.js';
import type { ScoreInput, ScoreResult, ScoringService } from '../../scoring/types.js';
import type { ServerContext } from '../context.js';
import { replyWithError } from '../error-handler.js';
import { clientGone, recordOutcome } from './score.js';

/** A status for each catalogue error, as one foreign server would answer it. */
export type StatusMap = Partial<Record<WarmServeError['type'], number>>;

/** A route-level fastify error handler that answers with `statuses` (catalogue status otherwise). */
export function compatErrorHandler(ctx: ServerContext, statuses: StatusMap) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) =>
    replyWithError(err, request, reply, ctx.config.body_limit_bytes, (mapped) => statuses[mapped.type] ?? mapped.status);
}

/** How to score one compatibility request. */
export interface CompatScoreOptions {
  /** The request field holding the items, for 413/422 messages (e.g. 'query', 'inputs'). */
  field: string;
  truncate: boolean;
  /** The error type of an item over max_length with truncate: false (TEI: its 413 validation error). */
  tooLongAs?: ErrorType;
}

/**
 * Score `items` for a compatibility route. Limits are checked against `field`, and the
 * service's own per-item errors (`items[3]: ... tokens exceed max_length`) are renamed to it.
 */
export async function scoreCompat(
  ctx: ServerContext,
  reply: FastifyReply,
  items: ScoreInput[],
  options: CompatScoreOptions,
): Promise<{ service: ScoringService; result: ScoreResult }> {
  const service = ctx.admission.service();
  ctx.admission.checkItems(items, options.field);
  reply.request.outcome.items = items.length;
  if (items.length === 0) return { service, result: { items: [], timings: { tokenize_ms: 0, queue_ms: 0, inference_ms: 0 } } };
  try {
    const result = await service.score(items, { truncate: options.truncate, signal: clientGone(reply) });
    recordOutcome(ctx, reply, result);
    return { service, result };
  } catch (err) {
    if (err instanceof WarmServeError && err.type === 'validation_error' && err.message.startsWith('items[')) {
      throw new WarmServeError(options.tooLongAs ?? err.type, `${options.field}${err.message.slice('items'.length)}`, { cause: err });
    }
    throw err;
  }
}

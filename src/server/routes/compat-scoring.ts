/**
 * What the compatibility routes share: score a list of items through the same route helper as
 * /v1/score under the field name the foreign API uses, and answer errors with the status codes
 * the foreign clients expect (keeping warm-serve's one error body).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WarmServeError, type ErrorType, type FieldPath } from '../../errors.js';
import type { ScoreInput } from '../../scoring/types.js';
import type { ServerContext } from '../context.js';
import { replyWithError } from '../error-handler.js';
import { scoreItems, type ScoredRequest } from '../scoring-route.js';

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
  /** Keep at most this many tokens per item (vLLM's truncate_prompt_tokens). */
  maxTokens?: number;
  /** The route's own limit check instead of the per-item one on `field` (a single sample names its own fields). */
  checkLimits?: () => void;
  /** An item's problem path in this API (default: `items[3]...` becomes `<field>[3]...`). */
  pathOf?: (path: readonly (string | number)[]) => FieldPath;
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
): Promise<ScoredRequest> {
  const { field, truncate, maxTokens, checkLimits, pathOf = (path) => [field, ...path.slice(1)] } = options;
  try {
    return await scoreItems(ctx, reply, items, { field, truncate, maxTokens, checkLimits });
  } catch (err) {
    // An item's validation error names the item in this API's list (`inputs[3]`, not `items[3]`).
    if (err instanceof WarmServeError && err.type === 'validation_error' && err.index !== undefined) {
      throw err.relabel({ field: pathOf(err.path!) }, options.tooLongAs);
    }
    throw err;
  }
}

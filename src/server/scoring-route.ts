/**
 * The steps every scoring route shares, native (/v1/score, /v1/rank) and compatibility
 * (/get_reward, /predict, /rerank, /classify): take the scoring service (503 while starting or
 * draining), check the request limits (413), count the items in the request's summary line,
 * score them through the shared queue (dropped there if the client goes away), and record what
 * was scored. A route only turns its wire format into items and the result into its answer.
 */
import type { FastifyReply } from 'fastify';
import type { ModelInfo, ScoreInput, ScoreOptions, ScoreResult } from '../scoring/types.js';
import type { ServerContext } from './context.js';

/** How a route scores its items. */
export interface ScoreItemsOptions extends Omit<ScoreOptions, 'signal'> {
  /** The request field holding the items, named in 413 messages (default 'items'; e.g. 'query', 'inputs'). */
  field?: string;
  /** The route's own limit check instead of the per-item one on `field` (/v1/rank counts prompt + completion). */
  checkLimits?: () => void;
}

/** A scored request: the model that answered and its result. */
export interface ScoredRequest {
  info: ModelInfo;
  result: ScoreResult;
}

/**
 * Score `items` for the request `reply` answers. Throws the WarmServeError of the step that
 * refused them. An empty list (OpenRLHF sends one to its spare servers) is an empty result.
 */
export async function scoreItems(
  ctx: ServerContext,
  reply: FastifyReply,
  items: ScoreInput[],
  options: ScoreItemsOptions = {},
): Promise<ScoredRequest> {
  const { field = 'items', checkLimits, ...scoreOptions } = options;
  const service = ctx.admission.service();
  if (checkLimits) checkLimits();
  else ctx.admission.checkItems(items, field);
  reply.request.outcome.items = items.length;
  if (items.length === 0) return { info: service.info, result: { items: [], timings: { tokenize_ms: 0, queue_ms: 0, inference_ms: 0 } } };
  const result = await service.score(items, { ...scoreOptions, signal: clientGone(reply) });
  recordOutcome(ctx, reply, result);
  return { info: service.info, result };
}

/** An AbortSignal that fires when the client goes away before its response is written. */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The client may have left before the handler ran (its 'close' is past): under load, requests
  // of clients that timed out wait in the socket backlog, and computing them only deepens it.
  if (reply.raw.destroyed) controller.abort();
  else {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
  }
  return controller.signal;
}

/** Copy a result's counts into the request's summary line and metrics. */
function recordOutcome(ctx: ServerContext, reply: FastifyReply, result: ScoreResult): void {
  const tokens = result.items.reduce((n, item) => n + item.tokens, 0);
  Object.assign(reply.request.outcome, { items: result.items.length, tokens, ...result.timings });
  ctx.metrics.tokenization(result.timings.tokenize_ms);
  ctx.metrics.scored(result.items.length, tokens);
}

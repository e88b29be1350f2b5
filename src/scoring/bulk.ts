/**
 * Scoring long lists (evaluation, offline scoring) through the same service and queue as live
 * traffic: the list is cut into requests small enough for the queue limits, a few in flight so
 * the batcher always has work to group by length, results kept in input order.
 */
import type { BatchingOptions } from '../batching/options.js';
import type { ScoreInput, ScoredItem, ScoringService } from './types.js';

/** Items per request and requests in flight when scoring a long list (eval, score). */
export const BULK_CHUNK_SIZE = 64;
export const BULK_CONCURRENCY = 8;

/**
 * Batching for a service that scores lists offline: nobody waits on a request there, so a slow
 * model must not time items out of the queue.
 */
export const OFFLINE_BATCHING: Partial<BatchingOptions> = { queue_timeout_ms: 0 };

/** How to cut a long list into requests. */
export interface BulkOptions {
  /** Items per request (keep it under max_queue_items / concurrency). Default BULK_CHUNK_SIZE. */
  chunkSize?: number;
  /** Requests in flight at once. Default BULK_CONCURRENCY. */
  concurrency?: number;
  /** false: refuse items longer than max_length instead of truncating them. */
  truncate?: boolean;
  /** Called after each finished request with items done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Score every item of `items` through `service` (anything with its `score`), in order. Rejects on the first failure. */
export async function scoreAll(service: Pick<ScoringService, 'score'>, items: readonly ScoreInput[], options: BulkOptions = {}): Promise<ScoredItem[]> {
  const chunkSize = options.chunkSize ?? BULK_CHUNK_SIZE;
  const concurrency = options.concurrency ?? BULK_CONCURRENCY;
  const results = new Array<ScoredItem>(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const start = next;
      next = Math.min(items.length, next + chunkSize);
      const scored = await service.score(items.slice(start, next), { truncate: options.truncate, signal: options.signal });
      scored.items.forEach((item, k) => (results[start + k] = item));
      done += scored.items.length;
      options.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

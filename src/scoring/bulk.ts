/**
 * Scoring long lists (evaluation, offline scoring) through the same service and queue as live
 * traffic: the list is cut into requests small enough for the queue limits, a few in flight so
 * the batcher always has work to group by length, results kept in input order.
 */
import type { ScoreInput, ScoredItem, ScoringService } from './types.js';

/** How to cut a long list into requests. */
export interface BulkOptions {
  /** Items per request (keep it under max_queue_items / concurrency). Default 64. */
  chunkSize?: number;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** false: refuse items longer than max_length instead of truncating them. */
  truncate?: boolean;
  /** Called after each finished request with items done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Score every item of `items` through `service`, in order. Rejects on the first failure. */
export async function scoreAll(service: ScoringService, items: readonly ScoreInput[], options: BulkOptions = {}): Promise<ScoredItem[]> {
  const chunkSize = options.chunkSize ?? 64;
  const concurrency = options.concurrency ?? 8;
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

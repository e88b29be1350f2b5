/**
 * Batch formation: which queued items go into the next forward pass. Pure function, no state.
 *
 * The oldest item anchors the batch (so no item starves), then the batch grows with the queued
 * items nearest in length, because every item is padded to the longest one and on CPU the cost
 * of a forward pass is roughly proportional to the padded tokens.
 */

/** Anything with a token count. */
export interface Sized {
  readonly length: number;
}

/** Limits on one batch. */
export interface BatchLimits {
  maxBatchSize: number;
  /** Batch size x longest item must stay at or below this. */
  maxBatchTokens: number;
  /** Stop growing the batch when padding would exceed this share of the padded tokens. */
  maxPaddingRatio: number;
}

/**
 * Pick the next batch. `queue` is in arrival order; `queue[0]` is always taken. Returns the
 * chosen items (a subset of `queue`), shortest first.
 */
export function selectBatch<T extends Sized>(queue: readonly T[], limits: BatchLimits): T[] {
  if (queue.length === 0) return [];
  const anchor = queue[0];
  // Stable sort: equal lengths keep arrival order, so older items win ties.
  const byLength = [...queue].sort((a, b) => a.length - b.length);
  let lo = byLength.indexOf(anchor);
  let hi = lo;
  let longest = anchor.length;
  let real = anchor.length;
  let count = 1;
  const fits = (n: number, max: number, realTokens: number) =>
    n * max <= limits.maxBatchTokens && n * max - realTokens <= limits.maxPaddingRatio * n * max;

  while (count < limits.maxBatchSize) {
    const shorter = lo > 0 ? byLength[lo - 1] : undefined;
    const longer = hi < byLength.length - 1 ? byLength[hi + 1] : undefined;
    // Padding each candidate would add: a shorter item pads itself, a longer one pads everyone.
    const shorterOk = shorter !== undefined && fits(count + 1, longest, real + shorter.length);
    const longerOk = longer !== undefined && fits(count + 1, longer.length, real + longer.length);
    if (!shorterOk && !longerOk) break;
    const shorterCost = shorterOk ? longest - shorter!.length : Infinity;
    const longerCost = longerOk ? (longer!.length - longest) * count : Infinity;
    if (shorterCost <= longerCost) {
      lo--;
      real += shorter!.length;
    } else {
      hi++;
      longest = longer!.length;
      real += longer!.length;
    }
    count++;
  }
  return byLength.slice(lo, hi + 1);
}

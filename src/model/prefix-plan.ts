/**
 * How one batch shares prefixes: which items reuse a cached past, which prefixes are computed
 * once for several items, and which items run whole. Items are grouped by their token ids
 * (the longest common prefix), never by prompt strings: templates, tokenizer merges at the
 * prompt/completion boundary and keep-the-tail truncation all change ids, and only equal ids
 * have equal pasts. Plain TypeScript: the plan is carried out by PrefixScorer.
 */
import { commonPrefix, type PrefixCache, type PrefixEntry, type PrefixMatch, type RecentSequences } from './prefix-cache.js';

/** Rows scored from one past: its first `length` positions, then each row's remaining tokens. */
export interface SuffixGroup {
  /** A cached entry, or the index of a prefix in `compute`. */
  past: PrefixEntry | number;
  length: number;
  rows: number[];
}

/** The work for one batch. */
export interface PrefixPlan {
  /** Prefixes to compute (and cache): the first `length` ids of item `item`. */
  compute: { item: number; length: number }[];
  groups: SuffixGroup[];
  /** Items that share nothing and run whole. */
  whole: number[];
}

/** Lexicographic order of token ids. */
function compareIds(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Plan `sequences`: each item leaves at least its last token to the suffix pass (its reward is
 * read there), and takes the longest prefix it can get of three:
 *   - the longest cached past it matches (no pass);
 *   - the common prefix of its run: items sorted by ids, neighbours sharing at least
 *     `cache.minTokens` ids form a run whose common prefix is computed once;
 *   - for an item alone in the batch, the prefix it shares with a recent item (its second
 *     sighting: computed now and cached, so later items of its group find it).
 * A computed prefix must beat the item's cached match, so a short cached prefix (a shared
 * template header, say) never hides its group's whole prompt. Items reusing one cached entry are
 * grouped at the shortest length any of them matches; items with none of the three run whole.
 * Every item is then remembered in `recent`.
 */
export function planBatch(sequences: readonly Int32Array[], cache: PrefixCache, recent: RecentSequences): PrefixPlan {
  const minTokens = cache.minTokens;
  const plan: PrefixPlan = { compute: [], groups: [], whole: [] };
  const eligible: number[] = [];
  const cached = new Map<number, PrefixMatch>();
  sequences.forEach((ids, i) => {
    if (ids.length <= minTokens) {
      plan.whole.push(i);
      return;
    }
    eligible.push(i);
    const match = cache.lookup(ids, ids.length - 1);
    if (match) cached.set(i, match);
  });

  const byEntry = new Map<PrefixEntry, SuffixGroup>();
  const useCached = (i: number) => {
    const match = cached.get(i);
    if (!match) {
      plan.whole.push(i);
      return;
    }
    const group = byEntry.get(match.entry);
    if (group) {
      group.rows.push(i);
      group.length = Math.min(group.length, match.length);
    } else byEntry.set(match.entry, { past: match.entry, length: match.length, rows: [i] });
  };
  const cachedLength = (i: number) => cached.get(i)?.length ?? 0;

  eligible.sort((a, b) => compareIds(sequences[a], sequences[b]));
  // Neighbours' common prefixes (each item keeps its last token). A run ends where that drops
  // below minTokens or to less than half a neighbouring pair's: a short shared header between two
  // groups does not merge them at the header's length.
  const shared = eligible.slice(1).map((b, k) => {
    const x = sequences[eligible[k]];
    const y = sequences[b];
    return commonPrefix(x, y, Math.min(x.length, y.length) - 1);
  });
  const ends = (k: number) => shared[k] < minTokens || 2 * shared[k] < Math.max(shared[k - 1] ?? 0, shared[k + 1] ?? 0);
  for (let start = 0; start < eligible.length; ) {
    let end = start + 1;
    let length = Infinity;
    while (end < eligible.length && !ends(end - 1)) length = Math.min(length, shared[end++ - 1]);
    let rows = eligible.slice(start, end);
    start = end;
    if (rows.length === 1) {
      const ids = sequences[rows[0]];
      length = recent.longest(ids, ids.length - 1);
    }
    // Rows whose cached match is within minTokens of the prefix to compute take the cache: a
    // prompt is not computed again to gain the token or two its completions happen to share.
    const better = rows.filter((i) => cachedLength(i) + minTokens > length);
    better.forEach(useCached);
    rows = rows.filter((i) => cachedLength(i) + minTokens <= length);
    if (rows.length === 0) continue;
    if (length < minTokens) {
      rows.forEach(useCached);
      continue;
    }
    plan.groups.push({ past: plan.compute.length, length, rows });
    plan.compute.push({ item: rows[0], length });
  }
  let hits = 0;
  for (const group of byEntry.values()) {
    plan.groups.push(group);
    hits += group.rows.length;
  }
  cache.counters.hits += hits;
  cache.counters.misses += eligible.length - hits;
  for (const ids of sequences) recent.add(ids);
  return plan;
}

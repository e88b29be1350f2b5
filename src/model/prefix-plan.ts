/**
 * How one batch shares prefixes: which items reuse a cached past, which prefixes are computed
 * once for several items, and which items run whole. Items are grouped by their token ids
 * (the longest common prefix), never by prompt strings: templates, tokenizer merges at the
 * prompt/completion boundary and keep-the-tail truncation all change ids, and only equal ids
 * have equal pasts. Plain TypeScript: the plan is carried out by PrefixScorer.
 */
import { commonPrefix, type PrefixCache, type PrefixEntry, type RecentSequences } from './prefix-cache.js';

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
 * read there). Items found in `cache` reuse that past (grouped per entry at the shortest length
 * any of them matches); the other items are sorted by ids and neighbours sharing at least
 * `cache.minTokens` ids form a group whose common prefix is computed once; a lone item whose
 * prefix a recent item shared gets that prefix computed (the second sighting); the rest run
 * whole. Every item is then remembered in `recent`.
 */
export function planBatch(sequences: readonly Int32Array[], cache: PrefixCache, recent: RecentSequences): PrefixPlan {
  const minTokens = cache.minTokens;
  const byEntry = new Map<PrefixEntry, SuffixGroup>();
  const misses: number[] = [];
  const whole: number[] = [];
  sequences.forEach((ids, i) => {
    if (ids.length <= minTokens) {
      whole.push(i);
      return;
    }
    const match = cache.lookup(ids, ids.length - 1);
    if (!match) {
      cache.counters.misses++;
      misses.push(i);
      return;
    }
    cache.counters.hits++;
    const group = byEntry.get(match.entry);
    if (group) {
      group.rows.push(i);
      group.length = Math.min(group.length, match.length);
    } else byEntry.set(match.entry, { past: match.entry, length: match.length, rows: [i] });
  });

  const plan: PrefixPlan = { compute: [], groups: [...byEntry.values()], whole };
  misses.sort((a, b) => compareIds(sequences[a], sequences[b]));
  for (let start = 0; start < misses.length; ) {
    // Extend the run while the next item shares >= minTokens ids with the run's common prefix.
    let length = sequences[misses[start]].length - 1;
    let end = start + 1;
    while (end < misses.length) {
      const next = sequences[misses[end]];
      const shared = commonPrefix(sequences[misses[start]], next, Math.min(length, next.length - 1));
      if (shared < minTokens) break;
      length = shared;
      end++;
    }
    const rows = misses.slice(start, end);
    start = end;
    if (rows.length === 1) {
      const ids = sequences[rows[0]];
      length = recent.longest(ids, ids.length - 1);
      if (length < minTokens) {
        whole.push(rows[0]);
        continue;
      }
    }
    plan.groups.push({ past: plan.compute.length, length, rows });
    plan.compute.push({ item: rows[0], length });
  }
  for (const ids of sequences) recent.add(ids);
  return plan;
}

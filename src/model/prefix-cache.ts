/**
 * The prefix cache: the keys and values (the "past") of token-id prefixes already computed,
 * so items that start with one of them run only their remaining tokens. Least recently used
 * entries go first once the bytes exceed the bound. Plain TypeScript; the tensors are stored
 * in the graph's precision, one [kv_heads, length, head_dim] array per past input: Float32Arrays,
 * or for a float16 graph Uint16Arrays of float16 bit patterns (session-tensors.ts).
 *
 * A cached past serves any item that shares at least `minTokens` of its first tokens: the past
 * of a prefix's first m tokens is the first m positions of the prefix's past (causal attention),
 * so a partial match is used through a copy of those positions (pastSlice).
 *
 * RecentSequences remembers the token ids (not the pasts) of recently scored items, so a prefix
 * is computed and cached the second time it is seen: the first completion of a GRPO group runs
 * whole, the second computes the shared prompt once, and later ones reuse it. Traffic without
 * shared prefixes thus never pays for computing or copying pasts it would not reuse.
 */

import type { FloatArray } from './session-tensors.js';

/** One cached past. */
export interface PrefixEntry {
  readonly ids: Int32Array;
  /** One [kv_heads, ids.length, head_dim] array per past input, in the graph's order and precision. */
  readonly past: readonly FloatArray[];
  readonly bytes: number;
}

/** A cached (or just computed) past and how many of its positions an item uses. */
export interface PrefixMatch {
  entry: PrefixEntry;
  length: number;
}

/** Counters since start (the metrics read them). */
export interface PrefixCacheCounters {
  hits: number;
  misses: number;
  evictions: number;
  /** Tokens not computed because a prefix was shared. */
  tokensReused: number;
}

/** Prefix sharing settings of one session. */
export interface PrefixSharing {
  /** Shortest shared prefix worth a pass of its own. */
  minTokens: number;
  /** Bound of the cache of pasts, in bytes (0: share inside a batch only). */
  cacheBytes: number;
}

/** The cache's counters and size, for the metrics. */
export interface PrefixStats extends PrefixCacheCounters {
  bytes: number;
  entries: number;
}

/** The figures of a cache that has seen nothing yet. */
export function noPrefixStats(): PrefixStats {
  return { hits: 0, misses: 0, evictions: 0, tokensReused: 0, bytes: 0, entries: 0 };
}

/** The figures of several caches (the worker's and the inline one of a session, an ensemble's sessions) added up; undefined for none. */
export function sumPrefixStats(all: readonly (PrefixStats | undefined)[]): PrefixStats | undefined {
  const present = all.filter((s) => s !== undefined);
  if (present.length === 0) return undefined;
  const sum = noPrefixStats();
  for (const stats of present) for (const key of Object.keys(sum) as (keyof PrefixStats)[]) sum[key] += stats[key];
  return sum;
}

/** Length of the common prefix of `a` and `b`, at most `limit`. */
export function commonPrefix(a: Int32Array, b: Int32Array, limit = Infinity): number {
  const n = Math.min(a.length, b.length, limit);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The first `minTokens` ids as a Map key (exact: the ids' bytes). */
function bucketKey(ids: Int32Array, minTokens: number): string {
  return Buffer.from(ids.buffer, ids.byteOffset, minTokens * 4).toString('latin1');
}

/** Sequences bucketed by their first `minTokens` ids: a match of at least minTokens is in the item's own bucket. */
class Buckets<T extends { ids: Int32Array }> {
  private readonly map = new Map<string, T[]>();

  constructor(readonly minTokens: number) {}

  /** The value sharing the longest prefix with `ids` (at least minTokens, at most `limit` counted). */
  longest(ids: Int32Array, limit: number): { value: T; length: number } | undefined {
    if (ids.length < this.minTokens || limit < this.minTokens) return undefined;
    let best: { value: T; length: number } | undefined;
    for (const value of this.map.get(bucketKey(ids, this.minTokens)) ?? []) {
      const length = commonPrefix(ids, value.ids, limit);
      if (length >= this.minTokens && length > (best?.length ?? 0)) best = { value, length };
    }
    return best;
  }

  add(value: T): void {
    const key = bucketKey(value.ids, this.minTokens);
    const list = this.map.get(key);
    if (list) list.push(value);
    else this.map.set(key, [value]);
  }

  delete(value: T): void {
    const key = bucketKey(value.ids, this.minTokens);
    const list = this.map.get(key);
    if (!list) return;
    const at = list.indexOf(value);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.map.delete(key);
  }
}

/** Past keys and values of prefixes, least recently used first out, bounded in bytes. */
export class PrefixCache {
  private readonly buckets: Buckets<PrefixEntry>;
  /** Insertion order = recency (a hit moves its entry to the end). */
  private readonly order = new Set<PrefixEntry>();
  private used = 0;
  readonly counters: PrefixCacheCounters = { hits: 0, misses: 0, evictions: 0, tokensReused: 0 };

  constructor(
    /** Most bytes of pasts held; 0 keeps nothing (sharing inside a batch still works). */
    readonly maxBytes: number,
    readonly minTokens: number,
  ) {
    this.buckets = new Buckets(minTokens);
  }

  /** Bytes of pasts held now. */
  get bytes(): number {
    return this.used;
  }

  get entries(): number {
    return this.order.size;
  }

  /** The entry sharing the longest prefix (>= minTokens) with `ids`, using at most `limit` of its positions; a hit refreshes it. */
  lookup(ids: Int32Array, limit: number): PrefixMatch | undefined {
    const found = this.buckets.longest(ids, limit);
    if (!found) return undefined;
    this.order.delete(found.value);
    this.order.add(found.value);
    return { entry: found.value, length: found.length };
  }

  /** Keep `entry` (evicting the least recently used as needed); false when it alone exceeds the bound. */
  insert(entry: PrefixEntry): boolean {
    if (entry.bytes > this.maxBytes) return false;
    while (this.used + entry.bytes > this.maxBytes) {
      const oldest = this.order.values().next().value!;
      this.remove(oldest);
      this.counters.evictions++;
    }
    this.order.add(entry);
    this.buckets.add(entry);
    this.used += entry.bytes;
    return true;
  }

  private remove(entry: PrefixEntry): void {
    this.order.delete(entry);
    this.buckets.delete(entry);
    this.used -= entry.bytes;
  }
}

/** The token ids of the last `capacity` items scored, to spot a prefix the second time it comes. */
export class RecentSequences {
  private readonly buckets: Buckets<{ ids: Int32Array }>;
  private readonly fifo: { ids: Int32Array }[] = [];

  constructor(
    readonly capacity: number,
    minTokens: number,
  ) {
    this.buckets = new Buckets(minTokens);
  }

  /** The longest prefix (>= minTokens, <= limit) `ids` shares with a recent item. */
  longest(ids: Int32Array, limit: number): number {
    return this.buckets.longest(ids, limit)?.length ?? 0;
  }

  add(ids: Int32Array): void {
    if (ids.length < this.buckets.minTokens || this.capacity === 0) return;
    const value = { ids };
    this.fifo.push(value);
    this.buckets.add(value);
    if (this.fifo.length > this.capacity) this.buckets.delete(this.fifo.shift()!);
  }
}

/** The first `length` positions of `entry`'s past, in its precision (the entry's own arrays when it is all of it). */
export function pastSlice(entry: PrefixEntry, length: number, kvHeads: number, headDim: number): readonly FloatArray[] {
  const full = entry.ids.length;
  if (length === full) return entry.past;
  return entry.past.map((array) => {
    const out = array instanceof Uint16Array ? new Uint16Array(kvHeads * length * headDim) : new Float32Array(kvHeads * length * headDim);
    for (let h = 0; h < kvHeads; h++) out.set(array.subarray(h * full * headDim, (h * full + length) * headDim), h * length * headDim);
    return out;
  });
}

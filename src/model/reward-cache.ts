/**
 * The reward cache: exact duplicates (same model, same final token ids, same request for
 * members and heads) are scored once. GRPO groups and retried requests repeat samples; a hit skips the
 * forward pass. An Engine around another one, so it sees the final ids of every item whatever
 * route, format or template produced them; least recently used entries go first past
 * `maxItems`. Duplicates inside one batch are run once too.
 */
import type { Engine, RunOptions } from './engine.js';
import type { PrefixStats } from './prefix-cache.js';

/** Counters since start, and the entries held now. */
export interface RewardCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  items: number;
}

/** `inner` behind a cache of rewards keyed by token ids. */
export class RewardCachingEngine implements Engine {
  /** Key -> the outputs of one item (model, then each member, then its heads, as asked); Map order = recency. */
  private readonly cache = new Map<string, Float32Array>();
  readonly stats: RewardCacheStats = { hits: 0, misses: 0, evictions: 0, items: 0 };

  constructor(
    private readonly inner: Engine,
    readonly maxItems: number,
  ) {}

  get inputs(): readonly string[] {
    return this.inner.inputs;
  }
  get executionProvider(): string {
    return this.inner.executionProvider;
  }
  get members(): readonly string[] | undefined {
    return this.inner.members;
  }
  get headCount(): number | undefined {
    return this.inner.headCount;
  }
  get prefixSharing() {
    return this.inner.prefixSharing;
  }
  prefixStats(): PrefixStats | undefined {
    return this.inner.prefixStats?.();
  }

  async run(sequences: readonly Int32Array[], options: RunOptions = {}): Promise<Float32Array> {
    const width = 1 + (options.members ? (this.inner.members?.length ?? 0) : 0);
    // Keyed by what is returned: an entry holds the rewards (model, then members when asked), then the heads when asked.
    const prefix = `${options.members ? 'm' : 'r'}${options.heads ? 'h' : ''}`;
    const keys = sequences.map((ids) => prefix + Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength).toString('latin1'));
    const found: (Float32Array | undefined)[] = keys.map((key) => this.get(key));
    // Each distinct missing key is run once.
    const toRun = new Map<string, number>();
    keys.forEach((key, i) => {
      if (!found[i] && !toRun.has(key)) toRun.set(key, i);
    });
    if (toRun.size > 0) {
      const rows = [...toRun.values()];
      const fresh = await this.inner.run(rows.map((i) => sequences[i]), options);
      const heads = (fresh.length - rows.length * width) / rows.length;
      rows.forEach((i, r) => {
        const entry = new Float32Array(width + heads);
        for (let k = 0; k < width; k++) entry[k] = fresh[k * rows.length + r];
        entry.set(fresh.subarray(rows.length * width + r * heads, rows.length * width + (r + 1) * heads), width);
        // A non-finite output fails its batch (runner.ts); kept, it would fail every repeat too.
        if (entry.every(Number.isFinite)) this.put(keys[i], entry);
        found[i] = entry;
      });
    }
    const entries = keys.map((key, i) => found[i] ?? found[toRun.get(key)!]!);
    const batch = sequences.length;
    const heads = entries[0].length - width;
    const out = new Float32Array(batch * (width + heads));
    entries.forEach((entry, i) => {
      for (let k = 0; k < width; k++) out[k * batch + i] = entry[k];
      out.set(entry.subarray(width), batch * width + i * heads);
    });
    return out;
  }

  private get(key: string): Float32Array | undefined {
    const rewards = this.cache.get(key);
    if (!rewards) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.cache.delete(key);
    this.cache.set(key, rewards);
    return rewards;
  }

  private put(key: string, rewards: Float32Array): void {
    this.cache.set(key, rewards);
    if (this.cache.size > this.maxItems) {
      this.cache.delete(this.cache.keys().next().value!);
      this.stats.evictions++;
    }
    this.stats.items = this.cache.size;
  }

  release(): Promise<void> {
    return this.inner.release();
  }
}

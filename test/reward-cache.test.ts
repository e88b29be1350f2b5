/**
 * The reward cache (src/model/reward-cache.ts): exact duplicates of token ids are scored once,
 * in a batch and across batches; members are cached apart; the cache is bounded in entries.
 * Over a counting engine whose reward is a function of the ids, so a wrong answer shows.
 */
import t from 'tap';
import type { Engine, RunOptions } from '../src/model/engine.js';
import { RewardCachingEngine } from '../src/model/reward-cache.js';

/** reward = sum of ids; member k's = sum + k + 1. Counts the items it computes. */
class SumEngine implements Engine {
  readonly inputs = ['input_ids'];
  readonly executionProvider = 'cpu';
  readonly members = ['a', 'b'];
  computed = 0;
  async run(sequences: readonly Int32Array[], options: RunOptions = {}): Promise<Float32Array> {
    this.computed += sequences.length;
    const width = options.members ? 3 : 1;
    const out = new Float32Array(sequences.length * width);
    sequences.forEach((s, i) => {
      const sum = s.reduce((a, b) => a + b, 0);
      for (let k = 0; k < width; k++) out[k * sequences.length + i] = sum + k;
    });
    return out;
  }
  async release() {}
}

const ids = (...v: number[]) => Int32Array.from(v);

t.test('duplicates are computed once; answers stay in order', async (t) => {
  const inner = new SumEngine();
  const engine = new RewardCachingEngine(inner, 100);
  t.same([...(await engine.run([ids(1, 2), ids(5), ids(1, 2), ids(7)]))], [3, 5, 3, 7]);
  t.equal(inner.computed, 3, 'the duplicate in the batch ran once');
  t.same([...(await engine.run([ids(5), ids(9), ids(1, 2)]))], [5, 9, 3]);
  t.equal(inner.computed, 4, 'only the new item ran');
  t.same(engine.stats, { hits: 2, misses: 5, evictions: 0, items: 4 });
});

t.test('members are cached apart from the model-only reward', async (t) => {
  const inner = new SumEngine();
  const engine = new RewardCachingEngine(inner, 100);
  await engine.run([ids(4)]);
  t.same([...(await engine.run([ids(4), ids(6)], { members: true }))], [4, 6, 5, 7, 6, 8], 'model block, then each member');
  t.equal(inner.computed, 3, 'a model-only entry does not answer a members request');
  t.same([...(await engine.run([ids(6)], { members: true }))], [6, 7, 8]);
  t.equal(inner.computed, 3);
});

t.test('bounded: least recently used out first', async (t) => {
  const inner = new SumEngine();
  const engine = new RewardCachingEngine(inner, 2);
  await engine.run([ids(1), ids(2)]);
  await engine.run([ids(1)]); // refreshes 1
  await engine.run([ids(3)]); // evicts 2
  t.equal(engine.stats.evictions, 1);
  const before = inner.computed;
  await engine.run([ids(1)]);
  t.equal(inner.computed, before, '1 stayed');
  await engine.run([ids(2)]);
  t.equal(inner.computed, before + 1, '2 went');
});

t.test('a failed batch caches nothing', async (t) => {
  const inner = new SumEngine();
  const engine = new RewardCachingEngine(inner, 10);
  inner.run = async () => {
    throw new Error('boom');
  };
  await t.rejects(engine.run([ids(1)]), /boom/);
  t.equal(engine.stats.items, 0);
});

t.test('heads are cached apart, per item; a non-finite output is not kept', async (t) => {
  const inner = new SumEngine();
  // With heads: each item's (sum, -sum) after the rewards; a NaN reward for ids summing to 0.
  const run = inner.run.bind(inner);
  inner.run = async (sequences, options = {}) => {
    const rewards = await run(sequences, options);
    rewards.forEach((r, i) => (rewards[i] = r === 0 ? Number.NaN : r));
    if (!options.heads) return rewards;
    const out = new Float32Array(rewards.length + 2 * sequences.length);
    out.set(rewards);
    sequences.forEach((s, i) => out.set([rewards[i], -rewards[i]], rewards.length + 2 * i));
    return out;
  };
  const engine = new RewardCachingEngine(inner, 10);
  t.same([...(await engine.run([ids(2), ids(3)], { heads: true }))], [2, 3, 2, -2, 3, -3], 'rewards, then each item\'s heads');
  t.same([...(await engine.run([ids(3)]))], [3], 'a plain request does not get heads');
  t.equal(inner.computed, 3, 'and is computed apart');
  t.same([...(await engine.run([ids(3), ids(2)], { heads: true }))], [3, 2, 3, -3, 2, -2], 'heads from the cache, in order');
  t.equal(inner.computed, 3);
  await engine.run([ids(0)]);
  await engine.run([ids(0)]);
  t.equal(inner.computed, 5, 'the NaN was not cached: its repeat ran again');
});

/**
 * The prefix planner and cache (src/model/prefix-plan.ts, prefix-cache.ts) on token ids alone:
 * which items share which prefix, what is cached and evicted. Exactness of the rewards is
 * tested against real graphs in test/prefix-sharing.test.ts.
 */
import t from 'tap';
import { commonPrefix, pastSlice, PrefixCache, RecentSequences, type PrefixEntry } from '../src/model/prefix-cache.js';
import { planBatch } from '../src/model/prefix-plan.js';

const ids = (...parts: number[][]) => Int32Array.from(parts.flat());
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
/** An entry whose past is `length` positions of 1 head of dim 1 holding the position numbers. */
const entry = (tokens: Int32Array): PrefixEntry => {
  const past = [Float32Array.from(range(0, tokens.length)), Float32Array.from(range(100, tokens.length))];
  return { ids: tokens, past, bytes: tokens.byteLength + 8 * tokens.length };
};

t.test('commonPrefix and pastSlice', async (t) => {
  t.equal(commonPrefix(ids([1, 2, 3]), ids([1, 2, 4])), 2);
  t.equal(commonPrefix(ids([1, 2, 3]), ids([1, 2, 3]), 2), 2, 'capped at the limit');
  const e = entry(ids(range(0, 5)));
  t.equal(pastSlice(e, 5, 1, 1), e.past, 'all of it: the entry itself');
  t.same([...pastSlice(e, 3, 1, 1)[1]], [100, 101, 102], 'the first positions');
  // 2 heads of dim 2, 3 positions: [h0p0 h0p0' h0p1 ...]
  const two: PrefixEntry = { ids: ids([7, 8, 9]), past: [Float32Array.from(range(0, 12))], bytes: 0 };
  t.same([...pastSlice(two, 2, 2, 2)[0]], [0, 1, 2, 3, 6, 7, 8, 9], 'per head');
});

t.test('a group in one batch computes its common prefix once', async (t) => {
  const cache = new PrefixCache(1e6, 4);
  const recent = new RecentSequences(16, 4);
  const prompt = range(10, 8);
  const batch = [ids(prompt, [50, 51]), ids(range(200, 9)), ids(prompt, [60]), ids(prompt, [50, 52, 53])];
  const plan = planBatch(batch, cache, recent);
  t.same(plan.compute, [{ item: 0, length: 8 }], 'the prompt, once (from the first item in id order)');
  t.same(plan.groups, [{ past: 0, length: 8, rows: [0, 3, 2] }]);
  t.same(plan.whole, [1], 'the unrelated item runs whole');
  t.equal(cache.counters.misses, 4);
});

t.test('the common prefix stops one token short of the shortest item', async (t) => {
  const cache = new PrefixCache(1e6, 2);
  const same = ids(range(1, 6));
  const plan = planBatch([same, same.slice(), ids(range(1, 6), [9])], cache, new RecentSequences(0, 2));
  t.same(plan.compute.map((c) => c.length), [5], 'an identical item leaves its last token to the suffix pass');
  t.same(plan.groups[0].rows.length, 3);
});

t.test('a prefix seen before is computed and then found in the cache', async (t) => {
  const cache = new PrefixCache(1e6, 4);
  const recent = new RecentSequences(16, 4);
  const prompt = range(10, 8);
  const first = planBatch([ids(prompt, [1, 2])], cache, recent);
  t.same(first.whole, [0], 'the first sighting runs whole');
  const second = planBatch([ids(prompt, [3])], cache, recent);
  t.same(second.compute, [{ item: 0, length: 8 }], 'the second computes the shared prompt');
  // The scorer inserts what it computes.
  cache.insert(entry(ids(prompt)));
  const third = planBatch([ids(prompt, [4, 5]), ids(prompt.slice(0, 6), [99, 98])], cache, recent);
  t.same(third.compute, []);
  t.equal(third.groups.length, 1, 'both use the cached prompt');
  t.equal(third.groups[0].length, 6, 'at the shortest match (6 of its 8 positions)');
  t.equal(cache.counters.hits, 2);
});

t.test('the cache is bounded in bytes, least recently used out first', async (t) => {
  const a = entry(ids(range(0, 10)));
  const cache = new PrefixCache(3 * a.bytes, 4);
  const entries = [0, 1, 2].map((k) => entry(ids(range(k * 100, 10))));
  for (const e of entries) t.ok(cache.insert(e));
  t.ok(cache.lookup(ids(range(0, 10), [1]), 10), 'a hit refreshes the first entry');
  t.ok(cache.insert(entry(ids(range(300, 10)))));
  t.equal(cache.counters.evictions, 1);
  t.equal(cache.bytes, 3 * a.bytes);
  t.notOk(cache.lookup(ids(range(100, 10), [1]), 10), 'the least recently used went');
  t.ok(cache.lookup(ids(range(0, 10), [1]), 10), 'the refreshed one stayed');
  t.notOk(new PrefixCache(0, 4).insert(a), 'a cache of 0 bytes keeps nothing');
});

t.test('a short cached prefix (a shared header) does not hide the longer prompt a group shares', async (t) => {
  const cache = new PrefixCache(1e6, 4);
  const recent = new RecentSequences(16, 4);
  const header = range(10, 5);
  cache.insert(entry(ids(header)));
  const prompt = [...header, ...range(40, 20)];
  const group = planBatch([ids(prompt, [1]), ids(prompt, [2, 3]), ids(header, [99, 98, 97])], cache, recent);
  t.same(group.compute, [{ item: 0, length: 25 }], 'the whole prompt is computed');
  t.same(group.groups.find((g) => g.past === 0)?.rows, [0, 1]);
  t.same(group.groups.find((g) => g.past !== 0)?.rows, [2], 'the item that shares only the header takes the cached header');
  // Alone in its batch, an item sharing the prompt with a recent item computes it too.
  const single = planBatch([ids(prompt.slice(0, 22), [7, 7])], cache, recent);
  t.same(single.compute, [{ item: 0, length: 22 }]);
});

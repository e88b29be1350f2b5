/**
 * Group scoring over HTTP: /v1/info says whether prefix sharing is on and with which settings;
 * /metrics counts prefix tokens reused and the caches' hits; per-sample requests of one group
 * (the way OpenRLHF, verl and slime send them) get the rewards the group gets in one /v1/rank
 * request; --prefix-sharing off and reward_cache_items 0 turn both off.
 */
import t from 'tap';
import { startServer } from '../src/server/start.js';
import { call, testConfig } from './helpers/http-call.js';

const prompt = 'SUBREDDIT: r/relationships\nTITLE: How do I tell my roommate that the dishes are piling up?\nPOST: We share a flat and every week the sink fills up again.\n\nTL;DR:';
const completions = [' Ask the roommate to share the dishes.', ' Talk to them calmly about a rota.', ' Move out.', ' Buy paper plates and forget about it.'];

/** The value of one unlabelled metric in a /metrics text. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

t.test('prefix sharing and the reward cache, seen from outside', async (t) => {
  const server = await startServer(testConfig());
  t.teardown(() => server.stop());
  const info = (await call(server.url, 'GET', '/v1/info')).json;
  t.same(info.prefix_sharing, { enabled: true, min_tokens: 16, cache_mb: 256 }, 'on by default for the reference graph (it takes past_key_values)');
  t.same(info.reward_cache, { items: 4096 });

  // One request per completion first: the first runs whole, the second computes the shared
  // prompt once, the later ones reuse it from the cache. Then the whole group in one /v1/rank:
  // exact duplicates, answered by the reward cache.
  const perSample: number[] = [];
  for (const completion of completions) perSample.push((await call(server.url, 'POST', '/v1/score', { items: [{ prompt, completion }] })).json.rewards[0]);
  const ranked = (await call(server.url, 'POST', '/v1/rank', { prompt, completions })).json;
  const byIndex = new Map<number, number>(ranked.ranking.map((r: { index: number; reward: number }) => [r.index, r.reward]));
  completions.forEach((_, i) => t.equal(byIndex.get(i), perSample[i], `completion ${i}: the same reward (${perSample[i]}) in one request each and in the group`));

  const text = await (await fetch(`${server.url}/metrics`)).text();
  t.ok(metric(text, 'warm_serve_prefix_tokens_reused_total') > 0, `prefix tokens reused: ${metric(text, 'warm_serve_prefix_tokens_reused_total')}`);
  t.ok(metric(text, 'warm_serve_prefix_cache_entries') >= 1, 'the prompt is cached');
  t.ok(metric(text, 'warm_serve_prefix_cache_bytes') > 0);
  t.equal(metric(text, 'warm_serve_prefix_cache_hits_total'), completions.length - 2, 'per sample: the third completion on found the prompt in the cache');
  t.equal(metric(text, 'warm_serve_reward_cache_hits_total'), completions.length, 'the group repeated the samples: answered from the reward cache');
});

t.test('--prefix-sharing off, reward_cache_items 0', async (t) => {
  const server = await startServer(testConfig({ prefix_sharing: 'off', reward_cache_items: 0 }));
  t.teardown(() => server.stop());
  const info = (await call(server.url, 'GET', '/v1/info')).json;
  t.same(info.prefix_sharing, { enabled: false });
  t.same(info.reward_cache, { items: 0 });
  await call(server.url, 'POST', '/v1/rank', { prompt, completions });
  const text = await (await fetch(`${server.url}/metrics`)).text();
  t.equal(metric(text, 'warm_serve_prefix_tokens_reused_total'), 0);
  t.equal(metric(text, 'warm_serve_reward_cache_misses_total'), 0, 'no reward cache, no lookups');
});

t.test('prefix_cache_mb bounds all the caches together: the model and every member, workers and inline copies', async (t) => {
  const budgetMb = 2;
  const server = await startServer(testConfig({ ensemble: true, prefix_cache_mb: budgetMb }));
  t.teardown(() => server.stop());
  t.same((await call(server.url, 'GET', '/v1/info')).json.prefix_sharing, { enabled: true, min_tokens: 16, cache_mb: budgetMb }, '/v1/info: the budget as configured');
  // Six different prompts, each scored one completion per request: each prompt is cached in
  // each of the 7 sessions (~100 KB per session), far more than 2 MiB if every session had its own 2 MiB.
  for (let p = 0; p < 6; p++) {
    const own = `Story ${p}: ${'once upon a time there was a little dog who played in the park with a red ball and '.repeat(2)}TL;DR:`;
    for (const completion of completions.slice(0, 3)) await call(server.url, 'POST', '/v1/score', { items: [{ prompt: own, completion }], return_members: true });
  }
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const bytes = metric(text, 'warm_serve_prefix_cache_bytes');
  t.ok(metric(text, 'warm_serve_prefix_cache_entries') >= 7, `prompts are cached (${metric(text, 'warm_serve_prefix_cache_entries')} entries)`);
  t.ok(metric(text, 'warm_serve_prefix_cache_evictions_total') > 0, 'the budget was reached: entries were evicted');
  t.ok(bytes <= budgetMb * 2 ** 20, `${(bytes / 2 ** 20).toFixed(2)} MiB held, within prefix_cache_mb ${budgetMb} MiB`);
});

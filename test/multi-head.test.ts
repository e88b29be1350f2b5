/**
 * Multi-objective (multi-head) reward models, end to end: two 3-head graphs built from the
 * reference model (test/fixtures/multi-head.ts), merged with warm-serve merge, served with
 * warm.json head_weights and head_names. reward = head_weights · logits on the plain path and
 * on the prefix-sharing path, `return_heads` gives each item's 3 values, /v1/info lists the
 * heads, and the reward cache keeps heads apart from plain rewards.
 */
import { join } from 'node:path';
import t from 'tap';
import { startServer, type RunningServer } from '../src/server/start.js';
import { ScoringService } from '../src/scoring/service.js';
import { makeMultiHead } from './fixtures/multi-head.js';
import { merge, tempDir } from './fixtures/merge/run-merge.js';
import { call, testConfig, type Json } from './helpers/http-call.js';
import { metric } from './helpers/metrics.js';
import { editJson, referenceCopy } from './helpers/reference-copy.js';
import { rejection } from './helpers/rejection.js';

const WEIGHTS = [1, 0.5, -0.25];
const NAMES = ['helpful', 'harmless', 'concise'];
const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

const PROMPT = '\n\nHuman: Tell me a story about a cat who finds a red ball in the garden.\n\nAssistant:';
const COMPLETIONS = [' Once upon a time a cat found a red ball.', ' The cat slept.', ' zzz', ' A cat, a ball, a garden: they played all day long.'];

let merged: string;
let plain: RunningServer;
let shared: RunningServer;
let reference: RunningServer;

t.before(async () => {
  // Member A: heads (w, -w, 2w); member B: (w, -w, 0). Their average is (w, -w, w): only the merge gives head 2 = head 0.
  const [a, b] = await Promise.all([referenceCopy(t, { name: 'head-a' }), referenceCopy(t, { name: 'head-b' })]);
  await Promise.all([makeMultiHead(a, [1, -1, 2]), makeMultiHead(b, [1, -1, 0])]);
  for (const dir of [a, b]) await editJson(join(dir, 'warm.json'), (m) => Object.assign(m, { head_weights: WEIGHTS, head_names: NAMES }));
  merged = join(tempDir('warm-multi-head-'), 'merged');
  await merge([a, b], merged, { format: 'onnx', quiet: true });
  [plain, shared, reference] = await Promise.all([
    startServer(testConfig({ model: merged, prefix_sharing: 'off', max_queue_delay_ms: 2 })),
    startServer(testConfig({ model: merged, prefix_min_tokens: 8, max_queue_delay_ms: 2 })),
    startServer(testConfig({ prefix_sharing: 'off' })),
  ]);
});
t.teardown(() => Promise.all([plain?.stop(), shared?.stop(), reference?.stop()]));

const items = COMPLETIONS.map((completion) => ({ prompt: PROMPT, completion }));

/** Each item's heads are (h, -h, h) with h the reference reward, and the reward is WEIGHTS · heads. */
function checkHeads(t: Tap.Test, json: Json, expected: number[], what: string): void {
  t.equal(json.heads.length, expected.length, `${what}: one row per item`);
  json.heads.forEach((row: number[], i: number) => {
    t.equal(row.length, 3, `${what}: item ${i} has 3 heads`);
    t.ok(close(row[0], expected[i], 1e-4), `${what}: item ${i} head 0 = the reference reward (${row[0]} vs ${expected[i]})`);
    t.ok(close(row[1], -row[0]) && close(row[2], row[0]), `${what}: item ${i} heads averaged as (h, -h, h): ${row}`);
    const weighted = row.reduce((sum, v, h) => sum + WEIGHTS[h] * v, 0);
    t.ok(close(json.rewards[i], weighted), `${what}: item ${i} reward ${json.rewards[i]} = head_weights · heads ${weighted}`);
  });
}

t.test('the merge carries the heads; /v1/info lists them', async (t) => {
  const info = (await call(plain.url, 'GET', '/v1/info')).json;
  t.same(info.head_names, NAMES);
  t.same(info.head_weights, WEIGHTS);
  t.same((await call(reference.url, 'GET', '/v1/info')).json.head_names, ['head_0'], 'a one-column model has one head');
});

t.test('plain path: reward = head_weights · logits, return_heads gives the 3 values', async (t) => {
  const expected = (await call(reference.url, 'POST', '/v1/score', { items })).json.rewards;
  const res = await call(plain.url, 'POST', '/v1/score', { items, return_heads: true });
  t.equal(res.status, 200, res.text);
  checkHeads(t, res.json, expected, 'plain');
  const bare = await call(plain.url, 'POST', '/v1/score', { items });
  t.notOk('heads' in bare.json, 'no heads unless asked');
  t.same(bare.json.rewards, res.json.rewards, 'the same rewards with and without heads');
});

t.test('prefix-sharing path: the same rewards and heads from the shared prompt', async (t) => {
  t.equal((await call(shared.url, 'GET', '/v1/info')).json.prefix_sharing.enabled, true);
  const expected = (await call(reference.url, 'POST', '/v1/score', { items })).json.rewards;
  const before = await metric(shared.url, 'warm_serve_prefix_tokens_reused_total');
  const ranked = await call(shared.url, 'POST', '/v1/rank', { prompt: PROMPT, completions: COMPLETIONS, return_heads: true, normalize: 'group' });
  t.equal(ranked.status, 200, ranked.text);
  t.ok((await metric(shared.url, 'warm_serve_prefix_tokens_reused_total')) > before, 'the prompt ran once for the group');
  checkHeads(t, ranked.json, expected, 'prefix');
  t.equal(ranked.json.best_index, ranked.json.rewards.indexOf(Math.max(...ranked.json.rewards)), 'ranked by the weighted reward');
});

t.test('the reward cache keys entries by what they return', async (t) => {
  const one = [{ prompt: PROMPT, completion: ' A cache test.' }];
  const hits = () => metric(shared.url, 'warm_serve_reward_cache_hits_total');
  const before = await hits();
  const first = await call(shared.url, 'POST', '/v1/score', { items: one });
  const withHeads = await call(shared.url, 'POST', '/v1/score', { items: one, return_heads: true });
  t.equal(await hits(), before, 'a plain entry does not answer a heads request');
  t.equal(withHeads.json.heads[0].length, 3);
  t.ok(close(withHeads.json.rewards[0], first.json.rewards[0]), 'the same reward');
  const again = await call(shared.url, 'POST', '/v1/score', { items: one, return_heads: true });
  t.equal(await hits(), before + 1, 'the heads entry answers the same request again');
  t.same(again.json.heads, withHeads.json.heads);
});

t.test('head_weights or head_names that do not fit the graph stop the load, naming the file', async (t) => {
  const bad = await referenceCopy(t, { name: 'bad-heads' });
  await makeMultiHead(bad, [1, 2, 3]);
  await editJson(join(bad, 'warm.json'), (m) => (m.head_weights = [1, 1]));
  const weights = await rejection(ScoringService.create(bad));
  t.equal(weights.type, 'model_error');
  t.match(weights.message, /head_weights has 2 weights but output 'logits' has 3 columns/);
  await editJson(join(bad, 'warm.json'), (m) => Object.assign(m, { head_weights: undefined, head_names: ['a', 'b'] }));
  const names = await rejection(ScoringService.create(bad));
  t.match(names.message, /warm\.json: head_names names 2 heads but the model's output has 3 columns/);
});

/**
 * The compatibility endpoints against the real reference model on a real server, called with
 * the payloads the trainers send (shapes copied from their source, cited per test), and checked
 * against the native API: the same text must get the same reward through every door.
 */
import t from 'tap';
import { buildApp } from '../src/server/app.js';
import { startServer, type RunningServer } from '../src/server/start.js';
import { call, testConfig, type Json } from './helpers/http-call.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;

let server: RunningServer;
let base: string;

t.before(async () => {
  server = await startServer(testConfig({ max_items_per_request: 8, max_queue_delay_ms: 2 }));
  base = server.url;
});
t.teardown(() => server.stop());

/** Rewards from the native API for `items`. */
async function nativeRewards(items: Json[]): Promise<number[]> {
  const res = await call(base, 'POST', '/v1/score', { items });
  if (res.status !== 200) throw new Error(res.text);
  return res.json.rewards;
}

const PROMPT = 'Once upon a time';
const COMPLETIONS = [' there was a little girl named Lily.', ' xq zz qq', ' the sun was happy and warm.'];

t.test('OpenRLHF POST /get_reward: query texts scored as raw text', async (t) => {
  // openrlhf/utils/remote_rm_utils.py remote_rm_fn_ray: {"query": queries, "prompts": prompts, "labels": labels}
  const queries = COMPLETIONS.map((c) => PROMPT + c);
  const res = await call(base, 'POST', '/get_reward', { query: queries, prompts: queries.map(() => PROMPT), labels: ['a', 'b', 'c'] });
  t.equal(res.status, 200);
  t.same(Object.keys(res.json).sort(), ['extra_logs', 'rewards', 'scores']);
  const expected = await nativeRewards(queries.map((text) => ({ text })));
  t.equal(res.json.rewards.length, 3);
  res.json.rewards.forEach((r: number, i: number) => t.ok(close(r, expected[i]), `query ${i} = /v1/score {text}`));
  t.same(res.json.scores, res.json.rewards, 'scores carry the same rewards');
  t.same(res.json.extra_logs, {});

  // With several --reward.remote_url servers OpenRLHF slices the batch; a spare server gets empty lists.
  const empty = await call(base, 'POST', '/get_reward', { query: [], prompts: [], labels: [] });
  t.equal(empty.status, 200);
  t.same(empty.json, { rewards: [], scores: [], extra_logs: {} });

  // labels of any JSON type (None when no --data.label_key) and unknown fields are accepted.
  const loose = await call(base, 'POST', '/get_reward', { query: [queries[0]], prompts: null, labels: [null], metas: [{}] });
  t.equal(loose.status, 200);
  t.ok(close(loose.json.rewards[0], expected[0]));

  const bad = await call(base, 'POST', '/get_reward', { query: 'not a list' });
  t.equal(bad.status, 422);
  t.match(bad.json.error, /^query: expected array/);
  const many = await call(base, 'POST', '/get_reward', { query: Array(9).fill('x') });
  t.equal(many.status, 413);
  t.match(many.json.error, /^query: 9 items exceeds the limit of 8 items/);
});

t.test('TEI POST /predict: string, pair, batch, raw_scores', async (t) => {
  // router/src/http/types.rs PredictInput: "text" | ["text"] | [first, second] | [[...], [...], ...]
  const [pairReward] = await nativeRewards([{ prompt: PROMPT, completion: COMPLETIONS[0] }]);
  const [textReward] = await nativeRewards([{ text: PROMPT }]);

  const single = await call(base, 'POST', '/predict', { inputs: PROMPT });
  t.equal(single.status, 200);
  t.same(single.json.map((p: Json) => p.label), ['LABEL_0'], 'one prediction for one logit');
  t.ok(close(single.json[0].score, sigmoid(textReward)), 'score = sigmoid(reward) by default');

  const oneElement = await call(base, 'POST', '/predict', { inputs: [PROMPT], raw_scores: true });
  t.ok(close(oneElement.json[0].score, textReward), '["text"] is a single input, raw_scores gives the reward');

  const pair = await call(base, 'POST', '/predict', { inputs: [PROMPT, COMPLETIONS[0]], raw_scores: true, truncate: true, truncation_direction: 'Left' });
  t.equal(pair.status, 200);
  t.ok(close(pair.json[0].score, pairReward), 'a pair is {prompt: first, completion: second}');

  const batch = await call(base, 'POST', '/predict', { inputs: [[PROMPT], [PROMPT, COMPLETIONS[0]]] });
  t.equal(batch.status, 200);
  t.equal(batch.json.length, 2, 'a list of predictions per batch input');
  t.ok(close(batch.json[0][0].score, sigmoid(textReward)));
  t.ok(close(batch.json[1][0].score, sigmoid(pairReward)));

  const three = await call(base, 'POST', '/predict', { inputs: ['a', 'b', 'c'] });
  t.equal(three.status, 422);
  t.match(three.json.error, /^inputs: expected a string, a pair \[string, string\], or a batch/);
  const right = await call(base, 'POST', '/predict', { inputs: 'a', truncation_direction: 'Right' });
  t.equal(right.status, 422);
  t.match(right.json.error, /^truncation_direction: 'Right' is not supported/);
  const long = 'The little girl went to the park and played with her friends. '.repeat(40);
  const refused = await call(base, 'POST', '/predict', { inputs: [['short'], [long]], truncate: false });
  t.equal(refused.status, 413, "TEI's status for an input over the model's length");
  t.match(refused.json.error, /^inputs\[1\]: \d+ tokens .* exceed max_length/);
  t.equal(refused.json.error_type, 'payload_too_large');
});

t.test('TEI POST /rerank: best-of-N, best first', async (t) => {
  // router/src/http/types.rs RerankRequest {query, texts, truncate?, truncation_direction?, raw_scores?, return_text?}
  const rewards = await nativeRewards(COMPLETIONS.map((completion) => ({ prompt: PROMPT, completion })));
  const res = await call(base, 'POST', '/rerank', { query: PROMPT, texts: COMPLETIONS, return_text: true });
  t.equal(res.status, 200);
  t.same(res.json.map((r: Json) => r.index).sort(), [0, 1, 2]);
  const scores = res.json.map((r: Json) => r.score);
  t.same(scores, [...scores].sort((a, b) => b - a), 'best first');
  for (const r of res.json) {
    t.ok(close(r.score, sigmoid(rewards[r.index])), `text ${r.index}: sigmoid(reward)`);
    t.equal(r.text, COMPLETIONS[r.index], 'return_text echoes the text');
  }
  t.equal(res.json[0].index, rewards.indexOf(Math.max(...rewards)), 'the best is the argmax of /v1/score');
  const raw = await call(base, 'POST', '/rerank', { query: PROMPT, texts: COMPLETIONS, raw_scores: true });
  t.notOk('text' in raw.json[0], 'no text unless return_text');
  t.ok(close(raw.json[0].score, Math.max(...rewards)), 'raw_scores gives the reward');
  const empty = await call(base, 'POST', '/rerank', { query: PROMPT, texts: [] });
  t.equal(empty.status, 400, "TEI's status for empty texts");
  t.match(empty.json.error, /^texts: cannot be empty/);
});

t.test('vLLM POST /classify: verl reads data[-1].probs[-1] as the raw reward', async (t) => {
  const text = `${PROMPT}${COMPLETIONS[0]}`;
  const [reward] = await nativeRewards([{ text }]);
  // verl/experimental/reward_loop/reward_loop.py compute_score_disrm: {"model", "input", "use_activation": False}
  const verl = await call(base, 'POST', '/classify', { model: '/models/my-rm', input: text, use_activation: false });
  t.equal(verl.status, 200);
  t.ok(close(verl.json.data[verl.json.data.length - 1].probs.at(-1), reward), 'data[-1].probs[-1] = /v1/score reward');
  t.equal(verl.json.object, 'list');
  t.match(verl.json.id, /^classify-[0-9a-f]{32}$/);
  t.equal(verl.json.model, server.service.info.name);
  t.ok(Math.abs(verl.json.created - Date.now() / 1000) < 60, 'created is unix seconds');
  t.same(verl.json.data[0], { index: 0, label: 'LABEL_0', probs: verl.json.data[0].probs, num_classes: 1 });
  const [{ tokens }] = (await call(base, 'POST', '/v1/score', { items: [{ text }] })).json.tokens.map((n: number) => ({ tokens: n }));
  t.same(verl.json.usage, { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0, prompt_tokens_details: null });

  // Older verl releases send the deprecated "activation": False.
  const older = await call(base, 'POST', '/classify', { model: 'm', input: text, activation: false });
  t.ok(close(older.json.data[0].probs[0], reward));
  // vLLM's default: the activation is on, sigmoid for one label.
  const plain = await call(base, 'POST', '/classify', { model: 'm', input: [text, PROMPT] });
  t.equal(plain.json.data.length, 2);
  t.ok(close(plain.json.data[0].probs[0], sigmoid(reward)), 'activation on by default: sigmoid(reward)');
  t.same(plain.json.data.map((d: Json) => d.index), [0, 1]);

  // Token ids are taken as vLLM takes them (test/trainers.test.ts); anything else is vLLM's 400.
  const objects = await call(base, 'POST', '/classify', { model: 'm', input: [{ text }] });
  t.equal(objects.status, 400, "vLLM's status for a bad request");
  t.match(objects.json.error, /^input\[0\]: expected a string, a non-empty list of strings, a non-empty list of token ids, or a list of non-empty token-id lists/);
  t.equal(objects.json.error_type, 'validation_error');
  t.equal((await call(base, 'POST', '/classify', '{"input": ')).status, 400);
});

t.test('not ready: every compatibility route answers 503 with Retry-After', async (t) => {
  const { app } = await buildApp({ config: testConfig() });
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  for (const [path, body] of [
    ['/get_reward', { query: ['a'] }],
    ['/get_reward', { query: [] }],
    ['/predict', { inputs: 'a' }],
    ['/rerank', { query: 'a', texts: ['b'] }],
    ['/classify', { input: 'a' }],
    ['/reward', { prompt: 'a', response: 'b' }],
    ['/v1/embeddings', { input: 'a' }],
    ['/tokenize', { prompt: 'a' }],
  ] as const) {
    const res = await call(url, 'POST', path, body);
    t.equal(res.status, 503, path);
    t.equal(res.json.error_type, 'not_ready');
    t.equal(res.headers.get('retry-after'), '1');
  }
});

t.test('queue timeout: TEI answers 429 (its overloaded status), vLLM 503 (verl retries 5xx)', async (t) => {
  const slow = await startServer(testConfig({ max_batch_size: 8, max_queue_delay_ms: 1000, queue_timeout_ms: 50 }));
  t.teardown(() => slow.stop());
  const [tei, vllm] = await Promise.all([
    call(slow.url, 'POST', '/predict', { inputs: 'a' }),
    call(slow.url, 'POST', '/classify', { input: 'a', use_activation: false }),
  ]);
  t.equal(tei.status, 429);
  t.equal(tei.json.error_type, 'queue_timeout');
  t.match(tei.headers.get('retry-after'), /^\d+$/);
  t.equal(vllm.status, 503);
  t.equal(vllm.json.error_type, 'queue_timeout');
});

/**
 * Trainers, second round (issue 16): each trainer's exact request against a real server on the
 * reference model, its answer read the way the trainer reads it, and compared with /v1/score.
 * Request shapes and reading code are cited from their source per test: slime's remote_rm,
 * verl's reward loop (SGLang and vLLM engines) and legacy SGLang reward model, vLLM's pooling
 * input and /tokenize, OpenRLHF's dynamic filtering; token ids, long rollouts, group advantages.
 */
import t from 'tap';
import { startServer, type RunningServer } from '../src/server/start.js';
import { call, testConfig, type Json } from './helpers/http-call.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol;
const MAX_IDS = 4096;
const BOS = 1;
const EOS = 2;

let server: RunningServer;
let base: string;

t.before(async () => {
  // Request limits at their defaults (long rollouts must pass as they are), but for max_ids_per_item.
  server = await startServer(testConfig({ openrlhf_scores: 'sigmoid', max_ids_per_item: MAX_IDS, max_queue_delay_ms: 2 }));
  base = server.url;
});
t.teardown(() => server.stop());

const post = (path: string, body: unknown) => call(base, 'POST', path, body);

/** /v1/score rewards (and tokens, truncated) for `items`. */
async function score(items: Json[]): Promise<Json> {
  const res = await post('/v1/score', { items });
  if (res.status !== 200) throw new Error(res.text);
  return res.json;
}

/** The ids /tokenize gives for a body. */
async function tokenize(body: Json): Promise<number[]> {
  const res = await post('/tokenize', body);
  if (res.status !== 200) throw new Error(res.text);
  return res.json.tokens;
}

const PROMPT = '\n\nHuman: Tell me a story about a cat.\n\nAssistant:';
const RESPONSES = [' Once upon a time a cat found a red ball and played all day.', ' The cat slept.', ' zzz qqq', ' A little cat went to the park with her friends.'];
const RENDERED = RESPONSES.map((r) => PROMPT + r);

/** slime's reward post-processing for one group (slime/ray/rollout.py): torch.tensor of the answers, minus the group mean, over its sample std + 1e-6. */
function slimeGroupNormalise(answers: unknown[]): number[] {
  if (!answers.every((a) => typeof a === 'number')) throw new TypeError(`torch.tensor cannot take ${JSON.stringify(answers)}`);
  const r = answers as number[];
  const mean = r.reduce((s, x) => s + x, 0) / r.length;
  const std = Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / (r.length - 1));
  return r.map((x) => (x - mean) / (std + 1e-6));
}

t.test('slime remote_rm: the answer is the reward, or answer[K] with --reward-key K', async (t) => {
  const expected = (await score(RESPONSES.map((completion) => ({ prompt: PROMPT, completion })))).rewards;
  // slime/rollout/rm_hub/__init__.py remote_rm: payload {"prompt", "response", "label"}; `return await resp.json()`.
  const answers = await Promise.all(RESPONSES.map((response) => post('/reward', { prompt: PROMPT, response, label: '42' })));
  answers.forEach((res, i) => {
    t.equal(res.status, 200);
    t.type(res.json, 'number', 'a bare JSON number: Sample.get_reward_value without --reward-key returns it as is');
    t.ok(close(res.json, expected[i]), `sample ${i}: /v1/score {prompt, completion}`);
  });
  const normalised = slimeGroupNormalise(answers.map((res) => res.json));
  t.ok(normalised.every(Number.isFinite), 'slime normalises the group without nan');
  // The same group through /v1/rank normalize: group (TRL's 1e-4 instead of slime's 1e-6).
  const ranked = await post('/v1/rank', { prompt: PROMPT, completions: RESPONSES, normalize: 'group' });
  ranked.json.advantages.forEach((a: number, i: number) => t.ok(close(a, normalised[i], 1e-3), `advantage ${i} = slime's normalised reward`));

  // --reward-key score with --rm-url http://HOST/reward?reward_key=score: get_reward_value reads reward["score"].
  const keyed = await post('/reward?reward_key=score', { prompt: PROMPT, response: RESPONSES[0], label: null, metadata: { ignored: true } });
  t.same(Object.keys(keyed.json), ['score']);
  t.ok(close(keyed.json.score, expected[0]));

  // Without --apply-chat-template slime's prompt is the sample's messages: the response is the assistant's turn.
  const messages = [{ role: 'user', content: 'Tell me a story about a cat.' }];
  const chat = await post('/reward', { prompt: messages, response: 'A cat found a ball.', label: null });
  const [chatReward] = (await score([{ messages: [...messages, { role: 'assistant', content: 'A cat found a ball.' }] }])).rewards;
  t.ok(close(chat.json, chatReward), 'messages + the response as the assistant turn = /v1/score {messages}');

  const missing = await post('/reward', { prompt: PROMPT });
  t.equal(missing.status, 422);
  t.match(missing.json.error, /^response: is required/);
});

t.test('verl reward loop, SGLang engine: POST /v1/embeddings, read data[-1]["embedding"][-1]', async (t) => {
  const expected = (await score(RENDERED.map((text) => ({ text })))).rewards;
  // verl/experimental/reward_loop/reward_loop.py compute_score_disrm (engine "sglang"): {"model", "input": disrm_prompt}.
  for (const [i, text] of RENDERED.entries()) {
    const res = await post('/v1/embeddings', { model: '/models/Skywork-Reward', input: text });
    t.equal(res.status, 200);
    t.ok(close(res.json.data.at(-1).embedding.at(-1), expected[i]), `rendered prompt ${i}: the raw reward`);
  }
  const batch = await post('/v1/embeddings', { model: 'm', input: RENDERED });
  t.same(batch.json.data.map((d: Json) => [d.object, d.index]), RENDERED.map((_, i) => ['embedding', i]));
  batch.json.data.forEach((d: Json, i: number) => t.ok(close(d.embedding[0], expected[i])));
  const { tokens } = await score(RENDERED.map((text) => ({ text })));
  t.same(batch.json.usage, { prompt_tokens: tokens.reduce((a: number, b: number) => a + b, 0), total_tokens: tokens.reduce((a: number, b: number) => a + b, 0) });
  t.equal(batch.json.object, 'list');
  // The openai Python client asks for base64 by default: little-endian float32 bytes.
  const b64 = await post('/v1/embeddings', { model: 'm', input: RENDERED[0], encoding_format: 'base64' });
  t.ok(close(Buffer.from(b64.json.data[0].embedding, 'base64').readFloatLE(0), expected[0]), 'base64 decodes to the reward');
  // Token ids, one list or a list of lists (OpenAI's input grammar).
  const ids = await tokenize({ prompt: RENDERED[0] });
  t.ok(close((await post('/v1/embeddings', { input: ids })).json.data[0].embedding[0], expected[0]), 'ids from /tokenize: the same reward');
  const lists = await post('/v1/embeddings', { input: [ids, ids] });
  t.equal(lists.json.data.length, 2);
  const bad = await post('/v1/embeddings', { input: [ids, [1, 2, -3]] });
  t.equal(bad.status, 400, 'SGLang answers request errors with 400, which verl does not retry');
  t.match(bad.json.error, /^input\[1\]\[2\]: expected a token id \(an integer >= 0\), got -3/);
});

t.test("verl's legacy SGLang reward model: POST /classify {input_ids: [[...]]}, read output[i]['embedding'][-1]", async (t) => {
  const expected = (await score(RENDERED.map((text) => ({ text })))).rewards;
  const idxList = await Promise.all(RENDERED.map((text) => tokenize({ prompt: text })));
  // verl/workers/reward_model/sglang_reward_model.py compute_reward: async_reward_score(prompt=None, input_ids=idx_list)
  // posts {"input_ids": idx_list} to /classify; _post_process_outputs stacks output["embedding"][-1] per output.
  const res = await post('/classify', { input_ids: idxList });
  t.equal(res.status, 200, res.text);
  t.equal(res.json.length, RENDERED.length, 'one output per id list');
  res.json.forEach((output: Json, i: number) => {
    t.ok(close(output.embedding.at(-1), expected[i]), `ids ${i}: the reward of the text they came from`);
    t.equal(output.meta_info.prompt_tokens, idxList[i].length);
  });
  const single = await post('/classify', { text: RENDERED[0] });
  t.ok(close(single.json.embedding[0], expected[0]), 'one text: one output, not a list (SGLang)');
  const both = await post('/classify', { input: RENDERED[0], text: RENDERED[0] });
  t.equal(both.status, 400);
  t.match(both.json.error, /^text: send one of input \(vLLM\), text or input_ids \(SGLang\), not input and text/);
});

t.test('verl reward loop, vLLM engine: token ids and truncation fields on /classify', async (t) => {
  const text = RENDERED[0];
  const ids = await tokenize({ prompt: text });
  const [reward] = (await score([{ text }])).rewards;
  // vllm/entrypoints/pooling/base/protocol.py CompletionRequestMixin: input list[int] | list[list[int]] | str | list[str].
  const asIds = await post('/classify', { model: 'm', input: ids, use_activation: false, add_special_tokens: false });
  t.equal(asIds.status, 200, asIds.text);
  t.ok(close(asIds.json.data.at(-1).probs.at(-1), reward), 'data[-1].probs[-1] of the ids = the text\'s reward');
  // A single id list longer than max_items_per_request is one input, not that many.
  const long = [BOS, ...Array.from({ length: 300 }, () => ids.slice(1, -1)).flat()];
  const many = await post('/classify', { input: long.slice(0, 300), use_activation: false });
  t.equal(many.status, 200, many.text);
  t.equal(many.json.data.length, 1);
  // truncate_prompt_tokens k keeps the last k tokens: BOS then the last k - 1 (as a long text is cut).
  const k = 8;
  const cut = await post('/classify', { input: text, truncate_prompt_tokens: k, use_activation: false });
  const [cutReward] = (await score([{ input_ids: [BOS, ...ids.slice(-(k - 1))] }])).rewards;
  t.ok(close(cut.json.data[0].probs[0], cutReward), 'truncate_prompt_tokens: 8 = the ids BOS + last 7');
  t.equal(cut.json.usage.prompt_tokens, k);
  const right = await post('/classify', { input: text, truncation_side: 'right' });
  t.equal(right.status, 400);
  t.match(right.json.error, /^truncation_side: 'right' is not supported/);
});

t.test('token ids on /v1/score: /tokenize then input_ids gives the same reward', async (t) => {
  const messages = [{ role: 'user', content: 'How can I sleep better?' }, { role: 'assistant', content: 'Keep your bedroom dark.' }];
  const items = [{ text: RENDERED[1] }, { prompt: PROMPT, completion: RESPONSES[2] }, { messages }];
  const expected = await score(items);
  // vLLM's /tokenize: {"prompt"} for a text, {"messages"} for a chat; warm-serve adds {"prompt", "completion"}.
  const bodies = [{ prompt: RENDERED[1] }, { prompt: PROMPT, completion: RESPONSES[2] }, { messages }];
  const answers = await Promise.all(bodies.map((body) => post('/tokenize', { ...body, return_token_strs: true })));
  answers.forEach((res, i) => {
    t.equal(res.status, 200, res.text);
    t.equal(res.json.count, res.json.tokens.length);
    t.equal(res.json.max_model_len, 128);
    t.equal(res.json.count, expected.tokens[i], `body ${i}: the tokens /v1/score counts`);
    t.equal(res.json.tokens[0], BOS, 'BOS included');
    t.equal(res.json.tokens.at(-1), EOS, 'EOS included (ensure_eos)');
    t.equal(res.json.token_strs.length, res.json.count);
    t.equal(res.json.token_strs[0], '<s>');
  });
  const byIds = await score(answers.map((res) => ({ input_ids: res.json.tokens })));
  byIds.rewards.forEach((r: number, i: number) => t.equal(r, expected.rewards[i], `item ${i}: the same reward from its ids`));

  // Ids are scored as given: no EOS appended, cut from the left past max_length keeping BOS.
  const inner = answers[0].json.tokens.slice(1, -1);
  const noEos = await score([{ input_ids: [BOS, ...inner] }]);
  t.equal(noEos.tokens[0], inner.length + 1, 'nothing added');
  const long = [BOS, ...Array.from({ length: 20 }, () => inner).flat()];
  const [cut, kept] = (await score([{ input_ids: long }, { input_ids: [BOS, ...long.slice(-127)] }])).rewards;
  const res = await score([{ input_ids: long }]);
  t.same([res.truncated[0], res.tokens[0]], [true, 128], 'truncated to max_length');
  t.equal(cut, kept, 'the kept ids are BOS and the last 127, as for a long text');

  const outside = await post('/v1/score', { items: [{ text: 'a' }, { input_ids: [BOS, 5, 512] }] });
  t.equal(outside.status, 422);
  t.match(outside.json.error, /^items\[1\]\.input_ids\[2\]: token id 512 is outside the model's vocabulary of 512 ids \(0 to 511\)/);
  const negative = await post('/v1/score', { items: [{ input_ids: [BOS, -4] }] });
  t.equal(negative.status, 422);
  t.match(negative.json.error, /^items\[0\]\.input_ids\[1\]: expected a token id \(an integer >= 0\), got -4/);
  const tooMany = await post('/v1/score', { items: [{ input_ids: Array(MAX_IDS + 1).fill(7) }] });
  t.equal(tooMany.status, 413, 'refused before the body is parsed');
  t.match(tooMany.json.error, /^items\[0\]\.input_ids: a list of more than 4096 token ids; .*\(max_ids_per_item\)/);
  t.equal((await post('/tokenize', { messages })).json.count, expected.tokens[2]);
  const neither = await post('/tokenize', { model: 'm' });
  t.equal(neither.status, 400);
  t.match(neither.json.error, /^prompt: is required \(or messages\)/);
});

t.test('a 300,000-character rollout is accepted by default by every trainer route, truncated from its start', async (t) => {
  const rollout = ' The little cat went to the park and played with her friends.'.repeat(5000).slice(0, 300_000);
  const info = (await call(base, 'GET', '/v1/info')).json;
  t.equal(info.limits.max_chars_per_item, info.limits.body_limit_bytes, 'any item a body can carry passes the per-item limit');
  const native = await score([{ prompt: PROMPT, completion: rollout }]);
  t.same([native.truncated[0], native.tokens[0]], [true, 128], 'truncated tells the caller');
  const ids = await tokenize({ prompt: PROMPT, completion: rollout });
  t.equal(ids.length, 128);
  t.equal((await score([{ input_ids: ids }])).rewards[0], native.rewards[0], 'the scored ids are the tail of the rollout');
  const reward = native.rewards[0];
  const text = PROMPT + rollout;
  // OpenRLHF (query), slime (prompt, response), verl SGLang (input) and vLLM (input), TRL (/v1/score above).
  const [openrlhf, slime, sglang, vllm] = await Promise.all([
    post('/get_reward', { query: [text], prompts: [PROMPT], labels: [null] }),
    post('/reward', { prompt: PROMPT, response: rollout, label: null }),
    post('/v1/embeddings', { model: 'm', input: text }),
    post('/classify', { model: 'm', input: text, use_activation: false }),
  ]);
  t.ok(close(openrlhf.json.rewards[0], reward), 'OpenRLHF');
  t.ok(close(slime.json, reward), 'slime');
  t.ok(close(sglang.json.data.at(-1).embedding.at(-1), reward), 'verl, SGLang engine');
  t.ok(close(vllm.json.data.at(-1).probs.at(-1), reward), 'verl, vLLM engine');
});

t.test('OpenRLHF dynamic filtering: scores are sigmoid(reward) with openrlhf_scores: sigmoid', async (t) => {
  const res = await post('/get_reward', { query: RENDERED, prompts: RENDERED.map(() => PROMPT), labels: RENDERED.map(() => null) });
  const expected = (await score(RENDERED.map((text) => ({ text })))).rewards;
  res.json.rewards.forEach((r: number, i: number) => t.ok(close(r, expected[i]), `rewards stay raw (${i})`));
  res.json.scores.forEach((s: number, i: number) => t.ok(close(s, sigmoid(expected[i])), `scores[${i}] = sigmoid(reward)`));
  // openrlhf/trainer/ppo_utils/experience_maker.py: a group is kept when min_r < mean(scores) < max_r (--dynamic_filtering_reward_range 0 1).
  const mean = res.json.scores.reduce((a: number, b: number) => a + b, 0) / res.json.scores.length;
  t.ok(0 < mean && mean < 1, 'a group of raw rewards averaging below 0 is no longer dropped');
});

t.test('/v1/rank normalize: group adds GRPO advantages over the completions', async (t) => {
  const res = await post('/v1/rank', { prompt: PROMPT, completions: RESPONSES, normalize: 'group', top_k: 1 });
  t.equal(res.status, 200, res.text);
  const r: number[] = res.json.rewards;
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const sampleStd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / (r.length - 1));
  t.same(res.json.advantages.map((a: number) => a.toFixed(9)), r.map((x) => ((x - mean) / (sampleStd + 1e-4)).toFixed(9)), '(r - mean) / (sample std + 1e-4), request order, top_k aside');
  t.ok(close(res.json.advantages.reduce((a: number, b: number) => a + b, 0), 0), 'they sum to 0');
  t.same((await post('/v1/rank', { prompt: PROMPT, completions: [RESPONSES[0]], normalize: 'group' })).json.advantages, [0], 'a group of one: 0');
  t.notOk('advantages' in (await post('/v1/rank', { prompt: PROMPT, completions: RESPONSES })).json, 'none unless asked');
  const bad = await post('/v1/rank', { prompt: PROMPT, completions: RESPONSES, normalize: 'batch' });
  t.equal(bad.status, 422);
  t.match(bad.json.error, /^normalize: /);
});

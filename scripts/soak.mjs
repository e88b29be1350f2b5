#!/usr/bin/env node
// Soak: mixed load against a spawned `warm-serve serve` (the built CLI) for 10 minutes, sampling
// its resident memory. Passes when RSS grows less than 10% and nothing failed that was not
// planned (bad requests get their 4xx, aborted requests may vanish, 503 + Retry-After is shed
// load) and the server logged no error. Its SIGTERM shutdown afterwards is reported (exit status
// and seconds) but not judged here: test/server-lifecycle.test.ts owns that.
//
//   npm run build && node scripts/soak.mjs [--duration-s 600] [--workers 4] [--sample-s 5] [--seed 1] [-- serve flags]
//
// Growth = median RSS over the last minute / median RSS over the second minute - 1 (the first
// minute is warm-up: JIT, allocator pools, tokenizer caches). Prints progress every 30 s and a
// JSON report at the end; exit status 1 when a check fails.
import { parseArgs } from 'node:util';
import { textPool, pool, post, referenceRewards } from './load/traffic.mjs';
import { seededRandom } from './seeded-random.mjs';
import { sampleEvery, startServerProcess } from './load/server-process.mjs';

const { values, positionals } = parseArgs({
  options: {
    'duration-s': { type: 'string', default: '600' },
    workers: { type: 'string', default: '4' },
    'sample-s': { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
  allowPositionals: true,
});
const durationS = Number(values['duration-s']);
const workers = Number(values.workers);
const next = seededRandom(Number(values.seed));
const pick = (list) => list[Math.floor(next() * list.length)];
const between = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));

const server = await startServerProcess(positionals);
const dispatcher = pool(256);
const texts = textPool(200, Number(values.seed));
const reference = await referenceRewards(dispatcher, server.url, texts);
const close = (a, b) => Math.abs(a - b) < 1e-4;
const textAt = () => {
  const i = Math.floor(next() * texts.length);
  return [texts[i], reference[i]];
};

/** One kind of traffic: build a request, and say whether its answer is the planned one. */
const KINDS = [
  { name: 'score_single', weight: 30, run: async (url) => {
    const [text, want] = textAt();
    const res = await post(dispatcher, `${url}/v1/score`, { items: [{ text }] });
    return res.status === 200 ? close(res.json.rewards[0], want) || `reward ${res.json.rewards[0]} != ${want}` : res;
  } },
  { name: 'score_multi', weight: 15, run: async (url) => {
    const chosen = Array.from({ length: between(2, 16) }, textAt);
    const items = chosen.map(([text], i) =>
      i % 3 === 0 ? { text } : i % 3 === 1 ? { prompt: 'Once upon a time', completion: ` ${text}` } : { messages: [{ role: 'user', content: 'Tell me a story.' }, { role: 'assistant', content: text }] });
    const res = await post(dispatcher, `${url}/v1/score`, { items });
    if (res.status !== 200) return res;
    const textsMatch = chosen.every(([, want], i) => i % 3 !== 0 || close(res.json.rewards[i], want));
    return (res.json.rewards.length === items.length && res.json.rewards.every(Number.isFinite) && textsMatch) || 'bad multi-item answer';
  } },
  { name: 'rank', weight: 10, run: async (url) => {
    const completions = Array.from({ length: between(2, 8) }, () => ` ${textAt()[0]}`);
    const res = await post(dispatcher, `${url}/v1/rank`, { prompt: 'Once upon a time', completions });
    return res.status === 200 ? (res.json.ranking.length === completions.length || 'bad ranking') : res;
  } },
  { name: 'get_reward', weight: 8, run: async (url) => {
    const [text, want] = textAt();
    const res = await post(dispatcher, `${url}/get_reward`, { query: [text], prompts: [''], labels: [''] });
    return res.status === 200 ? close(res.json.rewards[0], want) || 'get_reward differs from /v1/score' : res;
  } },
  { name: 'predict', weight: 5, run: async (url) => {
    const res = await post(dispatcher, `${url}/predict`, { inputs: textAt()[0] });
    return res.status === 200 ? (Number.isFinite(res.json[0]?.score) || 'bad predict answer') : res;
  } },
  { name: 'rerank', weight: 5, run: async (url) => {
    const res = await post(dispatcher, `${url}/rerank`, { query: 'Once upon a time', texts: [textAt()[0], textAt()[0]] });
    return res.status === 200 ? (res.json.length === 2 || 'bad rerank answer') : res;
  } },
  { name: 'classify', weight: 5, run: async (url) => {
    const [text, want] = textAt();
    const res = await post(dispatcher, `${url}/classify`, { model: 'm', input: [text], use_activation: false });
    return res.status === 200 ? close(res.json.data[0].probs[0], want) || 'classify differs from /v1/score' : res;
  } },
  { name: 'bad_request', weight: 12, run: async (url) => {
    const [body, status, path = '/v1/score'] = pick([
      ['{"items": [{"text": "a"}', 400],
      [{ items: [{ prompt: 'no completion' }] }, 422],
      [{ items: Array(300).fill({ text: 'a' }) }, 413],
      ['['.repeat(1000) + ']'.repeat(1000), 413],
      [{ items: [{ text: 'x'.repeat(40_000) }] }, 413],
      // issue 19's shapes: lists far over every limit (refused before parsing), many bad messages
      // (validation stops at the first bad item), too many messages, an over-long rerank
      [`{"items":[${'1,'.repeat(200_000)}1]}`, 413],
      [{ items: Array(64).fill({ messages: Array(512).fill({}) }) }, 422],
      [{ items: [{ messages: Array(2000).fill({ role: 'user', content: 'x' }) }] }, 413],
      [{ query: 'q', texts: Array(100).fill('t') }, 413, '/rerank'],
    ]);
    const res = await post(dispatcher, `${url}${path}`, body);
    return (res.status === status && typeof res.json?.error_type === 'string') || res;
  } },
  { name: 'abort', weight: 10, run: async (url) => {
    const signal = AbortSignal.timeout(between(1, 8));
    const items = Array.from({ length: 16 }, () => ({ text: textAt()[0] }));
    const res = await post(dispatcher, `${url}/v1/score`, { items }, { signal });
    // Aborted in flight, or finished first: both planned.
    return res.error?.name === 'AbortError' || res.error?.name === 'TimeoutError' || res.status === 200 || res;
  } },
];
const totalWeight = KINDS.reduce((n, k) => n + k.weight, 0);
const chooseKind = () => {
  let r = next() * totalWeight;
  return KINDS.find((k) => (r -= k.weight) < 0) ?? KINDS[0];
};

const counts = Object.fromEntries(KINDS.map((k) => [k.name, 0]));
let shed = 0;
const unplanned = [];
const rss = sampleEvery(Number(values['sample-s']) * 1000, server.rssBytes);
const started = performance.now();
const end = started + durationS * 1000;
const mb = (bytes) => Math.round(bytes / 2 ** 20);
const progress = setInterval(() => {
  const done = Object.values(counts).reduce((a, b) => a + b, 0);
  const s = (performance.now() - started) / 1000;
  process.stderr.write(`soak: ${Math.round(s)}/${durationS} s, ${done} requests (${Math.round(done / s)}/s), rss ${mb(server.rssBytes())} MiB, unplanned ${unplanned.length}\n`);
}, 30_000);

await Promise.all(Array.from({ length: workers }, async () => {
  while (performance.now() < end) {
    const kind = chooseKind();
    const verdict = await kind.run(server.url);
    counts[kind.name]++;
    if (verdict === true) continue;
    if (verdict?.status === 503 && /^\d+$/.test(verdict.retryAfter ?? '')) shed++;
    else unplanned.push({ kind: kind.name, detail: typeof verdict === 'string' ? verdict : verdict.error?.message ?? `${verdict.status} ${JSON.stringify(verdict.json)}` });
  }
}));
clearInterval(progress);
const samples = rss.stop();
const stopStarted = performance.now();
const exitCode = await server.stop();
const stopS = (performance.now() - stopStarted) / 1000;
await dispatcher.close();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const window = (from, to) => samples.filter((s) => s.t_s >= from && s.t_s < to).map((s) => s.value);
const baseline = median(window(60, 120).length ? window(60, 120) : window(0, durationS / 2));
const final = median(window(durationS - 60, Infinity));
const growth = final / baseline - 1;
// The shutdown is reported on its own (server_exit, shutdown_s): it is not part of the soak's verdict.
const serverErrors = server.log.filter((l) => l.level >= 50 && !/^drain timeout/.test(l.msg)).map((l) => l.msg);
const report = {
  duration_s: durationS,
  workers,
  requests: counts,
  requests_total: Object.values(counts).reduce((a, b) => a + b, 0),
  shed_503: shed,
  unplanned: unplanned.length,
  unplanned_examples: unplanned.slice(0, 10),
  server_error_log_lines: serverErrors.length,
  server_error_examples: serverErrors.slice(0, 5),
  rss_mib: { first: mb(samples[0].value), baseline_median_60_120s: mb(baseline), final_median_last_60s: mb(final), max: mb(Math.max(...samples.map((s) => s.value))) },
  rss_growth_pct: Math.round(growth * 1000) / 10,
  server_exit: exitCode,
  shutdown_s: Math.round(stopS * 10) / 10,
};
const ok = growth < 0.1 && unplanned.length === 0 && serverErrors.length === 0;
process.stdout.write(`${JSON.stringify(report, null, 2)}\n${ok ? 'soak: PASS' : 'soak: FAIL'}\n`);
process.exit(ok ? 0 : 1);

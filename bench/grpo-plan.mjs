/**
 * Replays GRPO traffic (bench/grpo-data.mjs) through the server's own batch selection
 * (dist/batching/select.js) and prefix plan (dist/model/prefix-plan.js, prefix-cache.js) without
 * running the model, for the analysis of bench/grpo.mjs: which passes the prefix scorer runs,
 * how many tokens they compute, and how long the prefixes that items reuse are. The queue is
 * modelled as the closed loop keeps it: per-sample, `clients` items waiting (each batch's items
 * replaced by the next ones); rank, `clients` requests of G items (a request's items return
 * together once all are scored). Cache entries are sized as the scorer sizes them (keys and
 * values of every layer, float32). Prints one JSON object.
 *
 *   node bench/grpo-plan.mjs [--model bench/.work/compute-1024] [--prompt-tokens 384]
 *       [--completion-tokens 64] [--group 16] [--items 2048] [--mode per-sample|rank]
 *       [--clients 64] [--unique] [--max-batch-tokens 2048] [--min-tokens 16] [--cache-mb 256]
 *       [--dist DIR] [--select server|fifo]
 *
 * --unique: group prompts whose first min-tokens ids differ from every other prompt's (the real
 * pool's TL;DR prompts share their "SUBREDDIT: r/...\nTITLE:" header). --dist: the plan and batcher
 * of another build (a proposed change). --select fifo: batches of the oldest items instead of the
 * server's length grouping (what a batcher keeping a request's items together would give).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { grpoPool, GrpoTraffic } from './grpo-data.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'bench/.work/compute-1024' },
    'prompt-tokens': { type: 'string', default: '384' },
    'completion-tokens': { type: 'string', default: '64' },
    group: { type: 'string', default: '16' },
    items: { type: 'string', default: '2048' },
    mode: { type: 'string', default: 'per-sample' },
    clients: { type: 'string' },
    unique: { type: 'boolean', default: false },
    'max-batch-tokens': { type: 'string', default: '2048' },
    'min-tokens': { type: 'string', default: '16' },
    'cache-mb': { type: 'string', default: '256' },
    dist: { type: 'string', default: join(import.meta.dirname, '..', 'dist') },
    select: { type: 'string', default: 'server' },
  },
});
// --dist: the plan of another build (e.g. a proposed change to src/model/prefix-plan.ts).
const from = (path) => import(pathToFileURL(join(values.dist, path)).href);
const { loadModelDirectory } = await from('model/directory.js');
const { ModelTokenizer } = await from('model/tokenizer.js');
const { planBatch } = await from('model/prefix-plan.js');
const { PrefixCache, RecentSequences } = await from('model/prefix-cache.js');
const { selectBatch } = await from('batching/select.js');
const G = Number(values.group);
const rank = values.mode === 'rank';
const clients = Number(values.clients ?? (rank ? 4 : 64));
const minTokens = Number(values['min-tokens']);
const dir = await loadModelDirectory(values.model);
const tokenizer = await ModelTokenizer.load(dir);
const config = JSON.parse(readFileSync(join(dir.path, 'config.json'), 'utf8'));
const bytesPerToken = config.num_hidden_layers * 2 * (config.num_key_value_heads ?? config.num_attention_heads) * (config.head_dim ?? config.hidden_size / config.num_attention_heads) * 4;
const pool = await grpoPool(values.model, { promptTokens: Number(values['prompt-tokens']), completionTokens: Number(values['completion-tokens']), minTokens });
const traffic = new GrpoTraffic(pool);

// Requests as lists of item texts, in sending order.
const requests = [];
if (rank) {
  for (const body of traffic.rank({ requests: Math.ceil(Number(values.items) / G), group: G }).bodies) {
    const { prompt, completions } = JSON.parse(body);
    requests.push(completions.map((c) => prompt + c));
  }
} else {
  for (const body of traffic.perSample({ items: Number(values.items), group: G, unique: values.unique || G === 1 }).bodies) {
    const { prompt, completion } = JSON.parse(body).items[0];
    requests.push([prompt + completion]);
  }
}
if (rank && values.unique) throw new Error('--unique is for per-sample traffic');
const ids = await Promise.all(requests.map(async (texts) => (await tokenizer.encode(texts)).map((e) => e.ids)));

/** --select fifo (analysis): the oldest items that fit the token budget, keeping a request's items together. */
function fifo(queue) {
  const out = [];
  let longest = 0;
  for (const item of queue) {
    const next = Math.max(longest, item.length);
    if (out.length > 0 && (out.length + 1) * next > limits.maxBatchTokens) break;
    out.push(item);
    longest = next;
  }
  return out;
}
const cache = new PrefixCache(Number(values['cache-mb']) * 2 ** 20, minTokens);
const recent = new RecentSequences(1024, minTokens);
const limits = { maxBatchSize: 64, maxBatchTokens: Number(values['max-batch-tokens']), maxPaddingRatio: 0.2 };
const s = { items: 0, tokens: 0, batches: 0, batch_items: 0, prefix_passes: 0, prefixes: 0, prefix_tokens: 0, suffix_passes: 0, suffix_rows: 0, suffix_tokens: 0, whole_passes: 0, whole_items: 0, whole_tokens: 0 };
const reuse = [];
let nextRequest = 0;
const queue = [];
const pending = new Map(); // request -> items not yet scored
const send = () => {
  const r = nextRequest++;
  if (r >= ids.length) return;
  pending.set(r, ids[r].length);
  for (const seq of ids[r]) queue.push({ ids: seq, length: seq.length, request: r });
};
for (let c = 0; c < clients; c++) send();
while (queue.length > 0) {
  const batch = values.select === 'fifo' ? fifo(queue) : selectBatch(queue, limits);
  for (const item of batch) queue.splice(queue.indexOf(item), 1);
  const seqs = batch.map((item) => item.ids);
  const plan = planBatch(seqs, cache, recent);
  s.batches++;
  s.batch_items += batch.length;
  if (plan.compute.length > 0) s.prefix_passes++;
  const computed = plan.compute.map(({ item, length }) => {
    const prefix = seqs[item].slice(0, length);
    const entry = { ids: prefix, past: [], bytes: prefix.byteLength + length * bytesPerToken };
    cache.insert(entry);
    s.prefixes++;
    s.prefix_tokens += length;
    return entry;
  });
  for (const group of plan.groups) {
    s.suffix_passes++;
    for (const row of group.rows) {
      s.suffix_rows++;
      s.suffix_tokens += seqs[row].length - group.length;
      reuse.push(group.length);
    }
  }
  if (plan.whole.length > 0) s.whole_passes++;
  for (const row of plan.whole) {
    s.whole_items++;
    s.whole_tokens += seqs[row].length;
  }
  for (const seq of seqs) {
    s.items++;
    s.tokens += seq.length;
  }
  void computed;
  // Each finished request brings its client's next one.
  for (const item of batch) {
    const left = pending.get(item.request) - 1;
    pending.set(item.request, left);
    if (left === 0) {
      pending.delete(item.request);
      send();
    }
  }
}
const computedTokens = s.prefix_tokens + s.suffix_tokens + s.whole_tokens;
reuse.sort((a, b) => a - b);
const q = (p) => reuse[Math.floor(p * (reuse.length - 1))];
const out = {
  dist: values.dist,
  model: values.model,
  mode: rank ? 'rank' : 'per-sample',
  group: G,
  clients,
  unique_prompts: values.unique,
  max_batch_tokens: limits.maxBatchTokens,
  select: values.select,
  ...s,
  mean_batch_size: s.batch_items / s.batches,
  tokens_per_item: s.tokens / s.items,
  computed_tokens_per_item: computedTokens / s.items,
  token_ratio: s.tokens / computedTokens,
  suffix_passes_per_batch: s.suffix_passes / s.batches,
  rows_per_suffix_pass: s.suffix_rows / s.suffix_passes,
  reuse_tokens: reuse.length ? { p10: q(0.1), p25: q(0.25), p50: q(0.5), p90: q(0.9) } : null,
  // Items whose reused prefix is under half the prompt: a shorter cached or shared prefix (a common header) won.
  short_reuse_items: reuse.filter((n) => n < Number(values['prompt-tokens']) / 2).length,
  cache: { hits: cache.counters.hits, misses: cache.counters.misses, evictions: cache.counters.evictions, entries: cache.entries, mb: cache.bytes / 2 ** 20 },
};
console.log(JSON.stringify(out, null, 1));

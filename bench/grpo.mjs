/**
 * Group scoring (prefix sharing, issue 15), part of `npm run bench` and runnable alone: GRPO-shaped
 * traffic from the benchmark's real texts (bench/grpo-data.mjs) against real `warm-serve serve`
 * processes, each measurement comparing a server with default settings (prefix_sharing auto)
 * against one with `--prefix-sharing off`, both up for the measurement and measured in short
 * alternating windows (on, off, off, on, on, off): only ratios within one run count, as this VM's
 * speed varies 2x between hours and other processes load it unevenly within minutes.
 *
 * On the compute-bound bench model at max_length 1024 (bench/make_compute_model.py --max-length
 * 1024 --members 0 -> bench/.work/compute-1024/), groups of G completions of ~64 tokens sharing a
 * ~384-token prompt:
 *   1. per-sample, G = 16: single-item /v1/score requests from 64 clients taking the next request
 *      from one queue, a prompt's completions interleaved with the other prompts' of its trainer
 *      step (64 items, shuffled);
 *   2. rank: one /v1/rank request per group of 16 (prompt + completions), 4 clients (64 items in flight);
 *   3. no shared prefixes: every item its own prompt (no two with the same first prefix_min_tokens
 *      token ids), same lengths, 64 clients, more windows (the target is a 5% difference);
 *   5. group size sweep G = 1, 4, 16, 64, per-sample, 64 clients (G = 16 is run 1, G = 1 is run 3);
 * on the reference model (models/reference, max_length 128), ~96-token prompts, ~24-token completions:
 *   4. per-sample and rank, as 1 and 2;
 * and
 *   6. memory: a fresh server (sharing on, default cache) under per-sample G = 16 traffic for 5
 *      minutes, new prompts arriving throughout: RSS (/proc) and the prefix cache's bytes every 5 s.
 * Both modes run the same default batching settings. Per window: items/s (the server's), and from
 * /metrics deltas tokens computed per item (scored tokens minus prefix tokens reused), prefix-cache
 * hit rate, reward-cache hits, batch sizes. Progress goes to stderr, the results' JSON to stdout.
 *
 * Writes bench/grpo.json and bench/plots/grpo-groups.svg, grpo-memory.svg, then re-renders
 * RESULTS.md (node bench/run.mjs --render), which shows them in "Group scoring (prefix sharing)".
 * bench/grpo-plan.mjs (the plan replayed without the model) and bench/grpo-passes.mjs (what each
 * kind of pass costs) explain the figures.
 *
 *   node bench/grpo.mjs [--quick] [--parts sweep,rank,reference,memory] [--groups 16,64,4,1]
 *                       [--memory-minutes 5] [--memory-flags '...'] [--no-write] [--no-render] [--dist DIR]
 *                       [--unique-prompts]
 *
 * --quick: one window per mode and a 1-minute memory run (a smoke test; ratios not meaningful).
 * --memory-flags (analysis): serve flags added for the memory run (e.g. '--prefix-sharing off');
 * MALLOC_* variables in the environment reach the server too, and are recorded.
 * --unique-prompts (analysis, not part of the benchmark): group prompts too are drawn from those
 * whose first prefix_min_tokens ids no other prompt has (no shared "SUBREDDIT: r/...\nTITLE:" header).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from './server.mjs';
import { nodeJson } from './node-json.mjs';
import { grpoPool, GrpoTraffic } from './grpo-data.mjs';
import { grpoPlots } from './plots.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    parts: { type: 'string', default: 'sweep,rank,reference,memory' },
    groups: { type: 'string', default: '16,64,4,1' },
    'unique-prompts': { type: 'boolean', default: false },
    'memory-minutes': { type: 'string', default: '5' },
    'memory-flags': { type: 'string', default: '' },
    'no-write': { type: 'boolean', default: false },
    'no-render': { type: 'boolean', default: false },
    dist: { type: 'string' },
  },
});
const BENCH = import.meta.dirname;
const ROOT = join(BENCH, '..');
const WORK = join(BENCH, '.work');
const parts = new Set(values.parts.split(','));
const log = (msg) => process.stderr.write(`[grpo] ${msg}\n`);
const sh = (cmd, args) => execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();

const CLIENTS = 64;
const GROUP = 16;
const STEP = 64;
const SWEEP = [1, 4, 16, 64];
const RANK_CLIENTS = 4;
const CACHE_MB = 256;
// Long queues of slow whole passes must not time out: this measures throughput, not refusal (as bench/run.mjs).
const SERVE_FLAGS = ['--queue-timeout-ms', '300000'];
const MODES = { sharing: [], off: ['--prefix-sharing', 'off'] };
/**
 * Per model: the shape; `rounds` windows per mode of `seconds` each (after `warmup`), alternated
 * on, off, off, on, on, off (other processes on this VM load it unevenly, so short alternating
 * windows compare the modes under the same conditions better than one long window each); and a
 * generous items/s bound to size the request lists.
 */
const MODELS = {
  compute: { dir: join(WORK, 'compute-1024'), promptTokens: 384, completionTokens: 64, seconds: 20, warmup: 3, rounds: 2, maxItemsPerS: 80 },
  reference: { dir: join(ROOT, 'models', 'reference'), promptTokens: 96, completionTokens: 24, seconds: 5, warmup: 2, rounds: 3, maxItemsPerS: 1200 },
};
// No shared prefixes: the target is a 5% difference, so more rounds.
const NO_SHARE_ROUNDS = 4;

const METRICS = {
  items: 'warm_serve_scored_items_total',
  tokens: 'warm_serve_scored_tokens_total',
  reused: 'warm_serve_prefix_tokens_reused_total',
  hits: 'warm_serve_prefix_cache_hits_total',
  misses: 'warm_serve_prefix_cache_misses_total',
  evictions: 'warm_serve_prefix_cache_evictions_total',
  rewardHits: 'warm_serve_reward_cache_hits_total',
  rewardMisses: 'warm_serve_reward_cache_misses_total',
  batches: 'warm_serve_batch_size_count',
  batchItems: 'warm_serve_batch_size_sum',
  batchTokens: 'warm_serve_batch_tokens_sum',
  inferenceSeconds: 'warm_serve_inference_duration_seconds_sum',
};

/** /metrics once every batch formed has finished (after a load run the last batch may still compute). */
async function settled(server) {
  for (let i = 0; i < 240; i++) {
    const m = await server.metrics();
    if ((m[METRICS.batches] ?? 0) === (m['warm_serve_inference_duration_seconds_count'] ?? 0)) return m;
    await sleep(250);
  }
  throw new Error('the server did not finish its batches within 60 s of the load ending');
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
/** CPU seconds (user + system, all threads) a process has used. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

const POLL_MS = 200;
/**
 * One closed-loop window of `traffic` ({path, items_per_request, bodies, commit}) against `server`.
 *
 * items/s is the server's: /metrics and the server's CPU time (/proc) are polled every 200 ms
 * through the measured window, and the rate is taken between the first and the last batch the
 * batcher formed in it (warm_serve_batch_size_sum steps as each batch starts; under this load the
 * next starts as the previous ends): items of the batches started in between ÷ the time between,
 * so a window holds whole batches (a pass of 4 items takes ~1.6 s unshared on the compute model)
 * and a 16-item /v1/rank request counts as its batches go. Over the same span: the server's CPU
 * seconds (items per CPU second is the same ratio with the CPU other processes took from the
 * server taken out). The client's items/s (requests completed) is kept beside it.
 *
 * Per-item figures are /metrics deltas over the whole run (warm-up and the cut-off end included;
 * items dropped from the queue when the clients left count nowhere): prefix tokens reused per
 * item entering a batch, scored tokens per item answered, tokens computed = their difference.
 */
async function window(server, traffic, { clients, seconds, warmup }) {
  const file = join(WORK, 'grpo', `bodies-${process.pid}.json`);
  const { commit, ...requests } = traffic;
  writeFileSync(file, JSON.stringify(requests));
  const before = await settled(server);
  const run = nodeJson('load.mjs', ['--url', server.url, '--concurrency', String(clients), '--seconds', String(seconds), '--warmup', String(warmup), '--bodies', file]);
  // load.mjs starts its clock within ~0.5 s of its spawn; the polled span sits inside the client's window.
  await sleep((warmup + 0.5) * 1000);
  const polls = [];
  const stop = performance.now() + (seconds - 1) * 1000;
  while (performance.now() < stop) {
    const t = performance.now();
    const m = await server.metrics();
    polls.push({ t: (t + performance.now()) / 2000, items: m[METRICS.batchItems] ?? 0, cpu: cpuSeconds(server.pid) });
    await sleep(Math.max(0, POLL_MS - (performance.now() - t)));
  }
  const load = await run;
  const prompts = commit(load.bodies_sent);
  const after = await settled(server);
  const d = Object.fromEntries(Object.entries(METRICS).map(([k, name]) => [k, (after[name] ?? 0) - (before[name] ?? 0)]));
  // Batch starts inside the span: polls where the items counter moved; each start is placed between two polls.
  const starts = polls.slice(1).map((p, i) => ({ ...p, t: (p.t + polls[i].t) / 2, moved: p.items !== polls[i].items })).filter((p) => p.moved);
  const [a, b] = [starts[0], starts.at(-1)];
  const span = starts.length >= 2 ? b.t - a.t : 0;
  if (load.exhausted) log(`  warning: the ${traffic.bodies.length} requests ran out before the window closed`);
  if (load.errors > 0) log(`  warning: ${load.errors} errors, first: ${load.first_error}`);
  if (starts.length < 4) log(`  warning: only ${starts.length} batches started in the window`);
  return {
    raw: {
      span_s: span,
      span_items: span > 0 ? b.items - a.items : 0,
      span_cpu_s: span > 0 ? b.cpu - a.cpu : 0,
      span_batches: Math.max(0, starts.length - 1),
      prompts_tldr: prompts.tldr,
      prompts_hh: prompts.hh,
      client_items: load.items_per_s * load.seconds,
      client_s: load.seconds,
      ...d,
    },
    requests: load.requests,
    errors: load.errors,
    latency_ms: load.latency_ms,
    exhausted: load.exhausted,
    prefix_cache_mb: (after.warm_serve_prefix_cache_bytes ?? 0) / 2 ** 20,
    prefix_cache_entries: after.warm_serve_prefix_cache_entries ?? 0,
    rss_mb: after.process_resident_memory_bytes / 2 ** 20,
  };
}

/** The reported figures of one window or of several (their raw sums added). */
function derive(raw) {
  const per = (x, n) => (n > 0 ? x / n : null);
  const scoredTokens = per(raw.tokens, raw.items);
  const reused = per(raw.reused, raw.batchItems);
  return {
    items_per_s: per(raw.span_items, raw.span_s),
    items_per_cpu_s: per(raw.span_items, raw.span_cpu_s),
    // Server CPU seconds per wall second over the span: 2 = both cores (less: other processes took some, or idle gaps).
    server_cpus: per(raw.span_cpu_s, raw.span_s),
    client_items_per_s: per(raw.client_items, raw.client_s),
    seconds: raw.span_s,
    items_in_span: raw.span_items,
    batches_in_span: raw.span_batches,
    prompts: { tldr: raw.prompts_tldr, hh: raw.prompts_hh },
    scored_items: raw.items,
    scored_tokens_per_item: scoredTokens,
    reused_tokens_per_item: reused,
    computed_tokens_per_item: scoredTokens === null || reused === null ? null : scoredTokens - reused,
    prefix_cache_hits: raw.hits,
    prefix_cache_misses: raw.misses,
    prefix_cache_hit_rate: per(raw.hits, raw.hits + raw.misses),
    prefix_cache_evictions: raw.evictions,
    reward_cache_hits: raw.rewardHits,
    reward_cache_misses: raw.rewardMisses,
    batches: raw.batches,
    mean_batch_size: per(raw.batchItems, raw.batches),
    mean_batch_tokens: per(raw.batchTokens, raw.batches),
    inference_ms_per_batch: per(1000 * raw.inferenceSeconds, raw.batches),
  };
}

const f = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));
const line = (r) =>
  `${f(r.items_per_s, 2)} items/s (${r.items_in_span} items in ${f(r.seconds)} s; client ${f(r.client_items_per_s, 2)}), ${f(r.items_per_cpu_s, 2)} items per server CPU s (${f(r.server_cpus, 2)} CPUs), computed ${f(r.computed_tokens_per_item, 0)} of ${f(r.scored_tokens_per_item, 0)} tokens/item, prefix hits ${f(100 * (r.prefix_cache_hit_rate ?? 0), 0)}%, reward hits ${r.reward_cache_hits}, batch ${f(r.mean_batch_size)}, prompts ${r.prompts.tldr} TL;DR + ${r.prompts.hh} HH`;

/** A mode's windows merged: raw sums added, then derived; the items/s of each window kept as `rounds`. */
function merge(windows) {
  const raw = {};
  for (const w of windows) for (const [k, v] of Object.entries(w.raw)) raw[k] = (raw[k] ?? 0) + v;
  const last = windows.at(-1);
  const latencies = windows.map((w) => w.latency_ms.p50).filter((v) => v !== null);
  return {
    ...derive(raw),
    rounds: windows.map((w) => derive(w.raw).items_per_s),
    rounds_per_cpu_s: windows.map((w) => derive(w.raw).items_per_cpu_s),
    requests: windows.reduce((a, w) => a + w.requests, 0),
    errors: windows.reduce((a, w) => a + w.errors, 0),
    latency_p50_ms: latencies.length ? latencies.sort((x, y) => x - y)[Math.floor(latencies.length / 2)] : null,
    prefix_cache_mb: last.prefix_cache_mb,
    prefix_cache_entries: last.prefix_cache_entries,
    rss_mb: last.rss_mb,
  };
}

let flip = false;
/**
 * One comparison: `rounds` windows per mode, alternating (on, off, off, on, ...; the order of the
 * first flips from one comparison to the next), each window on fresh requests from `draw(items)`.
 */
async function compare(label, servers, m, draw, { clients, perRequest = 1, rounds = m.rounds }) {
  const seconds = m.seconds;
  const warmup = m.warmup;
  if (values.quick) rounds = 1;
  const items = Math.ceil(m.maxItemsPerS * (seconds + warmup) * 1.2) + clients * perRequest;
  const windows = { sharing: [], off: [] };
  const loadAtStart = loadavg()[0];
  const order = flip ? ['off', 'sharing'] : ['sharing', 'off'];
  flip = !flip;
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? order : [...order].reverse()) {
      const w = await window(servers[mode], draw(items), { clients, seconds, warmup });
      log(`  ${label}, ${mode}${rounds > 1 ? ` (round ${r + 1})` : ''}: ${line(derive(w.raw))}`);
      windows[mode].push(w);
    }
  }
  const out = { label, clients, load_average: [loadAtStart, loadavg()[0]].map((v) => v.toFixed(2)).join(' -> '), sharing: merge(windows.sharing), off: merge(windows.off) };
  out.ratio = out.sharing.items_per_s / out.off.items_per_s;
  out.ratio_per_cpu_s = out.sharing.items_per_cpu_s / out.off.items_per_cpu_s;
  log(`  ${label}: sharing ÷ off = ${f(out.ratio, 2)} items/s (${f(out.ratio_per_cpu_s, 2)} per server CPU second)`);
  return out;
}

/** A server per mode for `m`, kept for `fn`, then stopped. */
async function withServers(m, fn) {
  const servers = {};
  try {
    for (const [mode, flags] of Object.entries(MODES)) servers[mode] = await startServer(m.dir, [...SERVE_FLAGS, ...flags], values.dist ? { dist: values.dist } : {});
    return await fn(servers);
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
}

async function computeModel(pool) {
  const m = MODELS.compute;
  const traffic = new GrpoTraffic(pool);
  const out = { model: 'compute-1024', pool: pool.stats };
  await withServers(m, async (servers) => {
    if (parts.has('sweep')) {
      out.sweep = [];
      // G = 16 first: it is measurement 1.
      for (const group of values.groups.split(',').map(Number)) {
        const noShare = group === 1;
        const unique = noShare || values['unique-prompts'];
        log(`compute model: per-sample, groups of ${group}${noShare ? ' (no shared prefixes: every item its own prompt)' : ''}, ${CLIENTS} clients`);
        const r = await compare(`G=${group}`, servers, m, (items) => traffic.perSample({ items, group, step: STEP, unique }), { clients: CLIENTS, ...(noShare ? { rounds: NO_SHARE_ROUNDS } : {}) });
        out.sweep.push({ group, unique_prompts: unique, ...r });
      }
      out.sweep.sort((a, b) => a.group - b.group);
    }
    if (parts.has('rank')) {
      log(`compute model: /v1/rank, one request per group of ${GROUP}, ${RANK_CLIENTS} clients`);
      out.rank = await compare('rank', servers, m, (items) => traffic.rank({ requests: Math.ceil(items / GROUP), group: GROUP, unique: values['unique-prompts'] }), { clients: RANK_CLIENTS, perRequest: GROUP });
    }
  });
  return out;
}

async function referenceModel(pool) {
  const m = MODELS.reference;
  const traffic = new GrpoTraffic(pool);
  const out = { model: 'reference', pool: pool.stats };
  await withServers(m, async (servers) => {
    log(`reference model: per-sample, groups of ${GROUP}, ${CLIENTS} clients`);
    out.per_sample = await compare('reference per-sample', servers, m, (items) => traffic.perSample({ items, group: GROUP, step: STEP }), { clients: CLIENTS });
    log(`reference model: /v1/rank, one request per group of ${GROUP}, ${RANK_CLIENTS} clients`);
    out.rank = await compare('reference rank', servers, m, (items) => traffic.rank({ requests: Math.ceil(items / GROUP), group: GROUP }), { clients: RANK_CLIENTS, perRequest: GROUP });
  });
  return out;
}

/** RSS and prefix-cache bytes of a fresh server (sharing on, defaults) under per-sample GRPO traffic. */
async function memory(pool) {
  const m = MODELS.compute;
  const minutes = Number(values['memory-minutes']) * (values.quick ? 0.2 : 1);
  const WARMUP_S = values.quick ? 10 : 30;
  const SAMPLE_S = 5;
  const traffic = new GrpoTraffic(pool, 16);
  // Far into the pool: prompts the windows before did not send (a fresh server has no cache anyway).
  traffic.nextPrompt = Math.floor(pool.prompts.length / 2);
  const extra = values['memory-flags'].split(' ').filter(Boolean);
  const server = await startServer(m.dir, [...SERVE_FLAGS, ...extra], values.dist ? { dist: values.dist } : {});
  try {
    const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
    const idle = rssMb();
    const file = join(WORK, 'grpo', `bodies-memory-${process.pid}.json`);
    const { commit, ...requests } = traffic.perSample({ items: Math.ceil(30 * (minutes * 60 + WARMUP_S)), group: GROUP, step: STEP });
    writeFileSync(file, JSON.stringify(requests));
    log(`memory: fresh server (sharing on, defaults), per-sample groups of ${GROUP}, ${CLIENTS} clients, ${minutes} min after a ${WARMUP_S} s warm-up; RSS at idle ${f(idle)} MB`);
    const loadRun = nodeJson('load.mjs', ['--url', server.url, '--concurrency', String(CLIENTS), '--warmup', String(WARMUP_S), '--seconds', String(minutes * 60), '--bodies', file]);
    let finished = false;
    void loadRun.then(() => (finished = true), () => (finished = true));
    const t0 = Date.now();
    const samples = [];
    while (!finished) {
      await sleep(SAMPLE_S * 1000);
      if (finished) break;
      const metrics = await server.metrics();
      const s = (Date.now() - t0) / 1000;
      samples.push({ s, rss_mb: rssMb(), cache_mb: (metrics.warm_serve_prefix_cache_bytes ?? 0) / 2 ** 20, heap_mb: metrics.nodejs_heap_size_used_bytes / 2 ** 20, external_mb: metrics.nodejs_external_memory_bytes / 2 ** 20, entries: metrics.warm_serve_prefix_cache_entries, evictions: metrics.warm_serve_prefix_cache_evictions_total, items: metrics.warm_serve_scored_items_total });
      if (samples.length % 6 === 0) {
        const x = samples.at(-1);
        log(`  ${x.s.toFixed(0)} s: RSS ${f(x.rss_mb)} MB, prefix cache ${f(x.cache_mb)} MB (${x.entries} entries, ${x.evictions} evictions), ${x.items} items scored`);
      }
    }
    const load = await loadRun;
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const measured = samples.filter((x) => x.s >= WARMUP_S);
    const end = measured.at(-1).s;
    const cacheMax = Math.max(...samples.map((x) => x.cache_mb));
    // Full: within 10% of the default bound (prefix_cache_mb 256; an entry of a 384-token prompt is 9 MB).
    const full = samples.find((x) => x.cache_mb >= 0.9 * CACHE_MB);
    const filledAt = full ? full.s : null;
    const afterFill = full ? samples.filter((x) => x.s >= filledAt) : measured;
    const firstMinute = afterFill.filter((x) => x.s < afterFill[0].s + 60);
    const lastMinute = measured.filter((x) => x.s > end - 60);
    const out = {
      minutes,
      flags: extra.join(' '),
      malloc_env: Object.keys(process.env).filter((k) => k.startsWith('MALLOC_')).map((k) => `${k}=${process.env[k]}`).join(' '),
      warmup_s: WARMUP_S,
      clients: CLIENTS,
      group: GROUP,
      items_per_s: load.items_per_s,
      requests: load.requests,
      errors: load.errors,
      rss_mb_idle: idle,
      rss_mb_start: mean(measured.filter((x) => x.s < WARMUP_S + 60).map((x) => x.rss_mb)),
      rss_mb_max: Math.max(...samples.map((x) => x.rss_mb)),
      rss_mb_end: mean(lastMinute.map((x) => x.rss_mb)),
      cache_mb_max: cacheMax,
      cache_mb_end: samples.at(-1).cache_mb,
      cache_filled_at_s: filledAt,
      rss_mb_first_minute_after_fill: mean(firstMinute.map((x) => x.rss_mb)),
      growth_after_fill: mean(lastMinute.map((x) => x.rss_mb)) / mean(firstMinute.map((x) => x.rss_mb)) - 1,
      evictions: samples.at(-1).evictions,
      samples,
    };
    log(`memory: RSS idle ${f(idle)} MB, first minute ${f(out.rss_mb_start)}, max ${f(out.rss_mb_max)}, last minute ${f(out.rss_mb_end)} MB; cache ${full ? `full at ${f(filledAt, 0)} s` : 'never full'} (max ${f(cacheMax)} MB), RSS in the minute after ${full ? 'it' : 'the warm-up'} ${f(out.rss_mb_first_minute_after_fill)} -> last minute ${f(out.rss_mb_end)} MB (${f(100 * out.growth_after_fill)}%), ${out.evictions} evictions`);
    return out;
  } finally {
    await server.stop();
  }
}

/** The targets of the GRPO benchmark as [name, value, goal, met]; value null when not measured. */
function grpoTargets(g) {
  const out = [];
  const at = (group) => g.compute?.sweep?.find((r) => r.group === group);
  const ratio = (name, r, goal, min) => out.push([name, r.ratio, goal, min === null ? null : r.ratio >= min, r.ratio_per_cpu_s]);
  if (at(GROUP)) ratio(`per-sample /v1/score, groups of ${GROUP}, ${CLIENTS} clients: items/s sharing ÷ off`, at(GROUP), '>= 3', 3);
  if (g.compute?.rank) ratio(`/v1/rank, one request per group of ${GROUP}: items/s sharing ÷ off`, g.compute.rank, '>= 4', 4);
  if (at(1)) ratio('no shared prefixes (every item its own prompt): items/s sharing ÷ off', at(1), '>= 0.95', 0.95);
  if (g.reference) ratio(`reference model (max_length 128), per-sample, groups of ${GROUP}: items/s sharing ÷ off`, g.reference.per_sample, 'none', null);
  if (g.reference) ratio(`reference model (max_length 128), /v1/rank: items/s sharing ÷ off`, g.reference.rank, 'none', null);
  if (g.memory) out.push([`RSS after the prefix cache filled, ${f(g.memory.minutes, 0)} min of GRPO traffic: growth`, g.memory.growth_after_fill, '< 10% (flat)', g.memory.growth_after_fill < 0.1]);
  return out;
}

const started = Date.now();
log('building the compute model at max_length 1024 (skipped when present)');
// Its progress goes to stderr: stdout is the results' JSON.
execFileSync('/usr/bin/python3', [join(BENCH, 'make_compute_model.py'), '--out', WORK, '--max-length', '1024', '--members', '0'], { stdio: ['ignore', process.stderr, 'inherit'] });
mkdirSync(join(WORK, 'grpo'), { recursive: true });
const results = {
  date: new Date().toISOString(),
  quick: values.quick,
  command: `node bench/grpo.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
  // The build measured (dist/, from `npm run build`): the commit, and source files that differed from it then.
  code: { commit: sh('git', ['rev-parse', '--short', 'HEAD']), src_modified: sh('git', ['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).map((l) => l.slice(3)) },
  machine: { cpu: cpus()[0]?.model, cpus: cpus().length, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, load_average_start: loadavg().map((v) => v.toFixed(2)).join(' ') },
  settings: {
    clients: CLIENTS,
    rank_clients: RANK_CLIENTS,
    group: GROUP,
    step_items: STEP,
    unique_prompts: values['unique-prompts'],
    serve_flags: SERVE_FLAGS.join(' '),
    modes: { sharing: '(defaults: --prefix-sharing auto --prefix-min-tokens 16 --prefix-cache-mb 256 --reward-cache-items 4096)', off: MODES.off.join(' ') },
    batching: 'defaults in both modes (max_batch_size 64, max_batch_tokens 2048, max_padding_ratio 0.2, max_queue_delay_ms 0, max_inflight_batches 1)',
    models: Object.fromEntries(Object.entries(MODELS).map(([k, m]) => [k, { dir: m.dir.slice(ROOT.length + 1), prompt_tokens: m.promptTokens, completion_tokens: m.completionTokens, seconds: m.seconds, warmup_s: m.warmup, rounds: values.quick ? 1 : m.rounds }])),
    no_share_rounds: values.quick ? 1 : NO_SHARE_ROUNDS,
  },
};
const computePool = await grpoPool(MODELS.compute.dir, { promptTokens: MODELS.compute.promptTokens, completionTokens: MODELS.compute.completionTokens, log });
if (parts.has('sweep') || parts.has('rank')) results.compute = await computeModel(computePool);
if (parts.has('reference')) {
  const m = MODELS.reference;
  results.reference = await referenceModel(await grpoPool(m.dir, { promptTokens: m.promptTokens, completionTokens: m.completionTokens, log }));
}
if (parts.has('memory')) results.memory = await memory(computePool);
results.machine.load_average_end = loadavg().map((v) => v.toFixed(2)).join(' ');
results.minutes = (Date.now() - started) / 60000;
results.targets = grpoTargets(results);
for (const [name, value, goal, met, perCpu] of results.targets) log(`target: ${name}: ${f(value, 2)}${perCpu === undefined ? '' : ` (per server CPU second ${f(perCpu, 2)})`} (goal ${goal})${met === null ? '' : met ? ' met' : ' NOT MET'}`);
log(`done in ${f(results.minutes)} min`);
console.log(JSON.stringify(results, null, 1));
if (!values['no-write']) {
  writeFileSync(join(BENCH, 'grpo.json'), `${JSON.stringify(results, null, 1)}\n`);
  mkdirSync(join(BENCH, 'plots'), { recursive: true });
  grpoPlots(results, join(BENCH, 'plots'));
  log('wrote bench/grpo.json, bench/plots/grpo-*.svg');
  if (!values['no-render']) execFileSync(process.execPath, [join(BENCH, 'run.mjs'), '--render'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

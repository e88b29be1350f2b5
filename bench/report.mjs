/**
 * The generated part of bench/RESULTS.md: machine, targets (ratios from one run) and the
 * tables of every measurement, rendered from the results object of bench/run.mjs.
 */

// monitorEventLoopDelay records whole timer intervals, so an idle loop reads its resolution:
// prom-client's eventLoopMonitoringPrecision in src/server/metrics.ts (10 ms before 2026-11-26 22:10
// UTC, 1 ms since; results.json records it from then on).
const loopResolution = (results) => results.event_loop_resolution_ms ?? 10;

const f = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits));
const row = (cells) => `| ${cells.join(' | ')} |`;
const table = (header, rows) => [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(row)].join('\n');
const at = (runs, c) => runs?.find((r) => r.concurrency === c);

/** The targets of issue 6 as [name, measured, target, met]. */
export function targets(results) {
  const out = [];
  const { tiny, compute } = results.models;
  if (compute) {
    const c64 = at(compute.single, 64);
    const ratio = c64.items_per_s / compute.ceiling.ceiling_items_per_s;
    out.push([
      'compute-bound model, 64 clients: server items/s ÷ raw ceiling',
      `${f(c64.items_per_s)} ÷ ${f(compute.ceiling.ceiling_items_per_s)} = **${f(ratio, 2)}**`,
      '>= 0.85',
      ratio >= 0.85,
    ]);
    const gain = c64.items_per_s / compute.unbatched.items_per_s;
    const rawGain = compute.ceiling.ceiling_items_per_s / compute.ceiling.batch1_items_per_s;
    out.push([
      'batching gain at 64 clients, compute-bound model (defaults ÷ max_batch_size 1)',
      `${f(c64.items_per_s)} ÷ ${f(compute.unbatched.items_per_s)} = **${f(gain, 2)}** (raw ORT best batch ÷ batch 1: ${f(rawGain, 2)})`,
      '>= 4',
      gain >= 4,
    ]);
  }
  for (const [name, m] of Object.entries(results.models)) {
    const cost = m.ensemble.warm.items_per_s / m.ensemble.mean.items_per_s;
    out.push([
      `ensemble of 6 (aggregate mean) cost ÷ WARM, ${name} model, ${m.ensemble.warm.concurrency} clients`,
      `${f(m.ensemble.warm.items_per_s)} ÷ ${f(m.ensemble.mean.items_per_s)} items/s = **${f(cost, 2)}×**`,
      '>= 5×',
      cost >= 5,
    ]);
  }
  if (tiny) {
    const p50 = at(tiny.single, 1).latency_ms.p50;
    const budget = tiny.ceiling.forward_ms + 2;
    const s1 = at(tiny.single, 1).server_ms;
    out.push([
      'tiny model, 1 client: p50 latency vs one forward pass + 2 ms',
      `p50 **${f(p50, 2)} ms**, forward pass ${f(tiny.ceiling.forward_ms, 2)} ms (+${f(p50 - tiny.ceiling.forward_ms, 2)} ms; server means: tokenize ${f(s1.tokenize_ms, 2)}, queue ${f(s1.queue_ms, 2)}, inference ${f(s1.inference_ms, 2)}, total ${f(s1.total_ms, 2)} ms)`,
      `<= ${f(budget, 2)} ms`,
      p50 <= budget,
    ]);
  }
  for (const [name, m] of Object.entries(results.models)) {
    const sat = at(m.single, 256);
    const res = loopResolution(m.run ?? results);
    const probe = sat.event_loop_probe ? `; over wall time (bench/loop-probe.mjs): p99 ${f(sat.event_loop_probe.p99)} ms, max ${f(sat.event_loop_probe.max)} ms` : '';
    out.push([
      `event-loop delay p99 under saturation (256 clients), ${name} model`,
      `**${f(sat.event_loop_p99_ms)} ms** as exported (\`nodejs_eventloop_lag_p99_seconds\`, ${res} ms resolution, which it includes)${probe}`,
      '<= 20 ms',
      sat.event_loop_p99_ms <= 20,
    ]);
  }
  if (results.memory) {
    const g = results.memory.growth;
    out.push([
      `RSS growth over ${f(results.memory.minutes, 0)} min of sustained load (${results.memory.model}, ${results.memory.concurrency} clients)`,
      `${f(results.memory.rss_mb_start)} → ${f(results.memory.rss_mb_end)} MB = **${f(100 * g)}%** (bench/memory.json, ${results.memory.date.slice(0, 16)})`,
      '< 10%',
      g < 0.1,
    ]);
  }
  return out;
}

function modelSection(m) {
  const c = m.ceiling;
  const lines = [
    `### ${m.name} model (${c.model})`,
    '',
    ...(m.run ? [`Measured in a separate run of this model only: ${m.run.date.slice(0, 16).replace('T', ' ')} UTC, load average at start ${m.run.load_average_start}, at end ${m.run.load_average_end}.`, ''] : []),
    `Items: ${c.items} sampled texts, tokens p10/p50/p90 ${c.tokens.p10}/${c.tokens.p50}/${c.tokens.p90}, ${f(100 * c.tokens.at_max_length, 0)}% at max_length. One forward pass (batch 1, median): **${f(c.forward_ms, 2)} ms**.`,
    '',
    'Raw ONNX Runtime (pre-tokenized, pre-padded, length-sorted batches; `bench/ceiling.mjs`):',
    '',
    table(['batch size', 'items/s', 'ms per batch (median)'], Object.entries(c.batches).map(([b, r]) => [b, f(r.items_per_s), f(r.median_ms, 2)])),
    '',
    `Ceiling: **${f(c.ceiling_items_per_s)} items/s** (batch ${c.best_batch_size}).`,
    '',
    'Server, single-item requests (`bench/load.mjs`, closed loop, separate process):',
    '',
    table(
      ['clients', 'items/s', '÷ ceiling', 'p50 ms', 'p95 ms', 'p99 ms', 'mean batch', 'padding', 'tokenize ms', 'queue ms', 'inference ms', 'loop p99 ms', 'loop p99 ms over wall time', 'errors'],
      m.single.map((r) => [
        r.concurrency, f(r.items_per_s), f(r.items_per_s / c.ceiling_items_per_s, 2), f(r.latency_ms.p50, 2), f(r.latency_ms.p95, 2), f(r.latency_ms.p99, 2),
        f(r.mean_batch_size), `${f(100 * r.mean_padding_ratio)}%`, f(r.server_ms.tokenize_ms, 2), f(r.server_ms.queue_ms, 2), f(r.server_ms.inference_ms, 2), f(r.event_loop_p99_ms), f(r.event_loop_probe?.p99), r.errors,
      ]),
    ),
    '',
    `Server, ${m.multi[0].items_per_request}-item requests:`,
    '',
    table(
      ['clients', 'items/s', '÷ ceiling', 'requests/s', 'p50 ms', 'p95 ms', 'p99 ms', 'mean batch', 'loop p99 ms', 'errors'],
      m.multi.map((r) => [r.concurrency, f(r.items_per_s), f(r.items_per_s / c.ceiling_items_per_s, 2), f(r.requests_per_s), f(r.latency_ms.p50, 1), f(r.latency_ms.p95, 1), f(r.latency_ms.p99, 1), f(r.mean_batch_size), f(r.event_loop_p99_ms), r.errors]),
    ),
    '',
    'Batching gain and ensemble cost:',
    '',
    table(
      ['run', 'clients', 'items/s', 'p50 ms', 'p99 ms', 'mean batch'],
      [
        ['defaults', 64, at(m.single, 64)],
        ['max_batch_size 1', 64, m.unbatched],
        ['--ensemble, aggregate warm', m.ensemble.warm.concurrency, m.ensemble.warm],
        ['--ensemble, aggregate mean (6 members)', m.ensemble.mean.concurrency, m.ensemble.mean],
      ].map(([label, clients, r]) => [label, clients, f(r.items_per_s), f(r.latency_ms.p50, 1), f(r.latency_ms.p99, 1), f(r.mean_batch_size)]),
    ),
    '',
  ];
  return lines.join('\n');
}

/** Tables of bench/tune.mjs (bench/tuning.json), each variant against its model's defaults. */
function tuningSection(t) {
  const base = (model, rows) => rows.find((r) => r.model === model);
  const rel = (v, b) => `${v >= b ? '+' : ''}${f((100 * (v - b)) / b, 0)}%`;
  const mu = t.micro;
  return [
    `### Tuning (\`node bench/tune.mjs --baseline-dist DIR\`, run ${t.date.slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    'Server knobs, each against the defaults in the same run (c = concurrent clients):',
    '',
    table(
      ['model', 'variant', 'p50 ms, c=1', 'items/s, c=64', 'vs defaults', 'p99 ms, c=64', 'loop p99 ms, c=64'],
      t.server.map((r) => {
        const b = base(r.model, t.server);
        return [r.model, r.label, f(r.p50_c1_ms, 2), f(r.items_per_s_c64), rel(r.items_per_s_c64, b.items_per_s_c64), f(r.p99_c64_ms, 0), f(r.event_loop_p99_c64_ms)];
      }),
    ),
    '',
    'Engine knobs, raw ONNX Runtime (bench/ceiling.mjs, 64 items):',
    '',
    table(
      ['model', 'variant', 'forward ms (batch 1)', 'items/s batch 1', 'items/s batch 16', 'batch 16 vs defaults'],
      t.engine.map((r) => [r.model, r.label, f(r.forward_ms, 2), f(r.items_per_s_b1), f(r.items_per_s_b16), rel(r.items_per_s_b16, base(r.model, t.engine).items_per_s_b16)]),
    ),
    '',
    `Per-request CPU outside the model: padding a 16 × ~115 batch into int64 tensors ${f(mu.pad_16x128_int32_view_us)} µs through Int32Array views (src/model/padded-batch.ts) against ${f(mu.pad_16x128_bigint_us)} µs with BigInt per token; ` +
      `serialising a single-item /v1/score response ${f(mu.serialize_fast_json_stringify_us, 2)} µs with the compiled response schema (fast-json-stringify) against ${f(mu.serialize_json_stringify_us, 2)} µs with JSON.stringify.`,
    '',
  ].join('\n');
}

/** The section of bench/grpo.mjs (bench/grpo.json): group scoring with and without prefix sharing. */
function grpoSection(g) {
  const st = g.settings;
  const cm = st.models.compute;
  const rm = st.models.reference;
  const pct = (v) => (v === null || v === undefined ? 'n/a' : `${f(100 * v, 0)}%`);
  const rows = [];
  const add = (run, r) => {
    for (const mode of ['sharing', 'off']) {
      const x = r[mode];
      const first = mode === 'sharing';
      rows.push([
        first ? run : '',
        first ? 'auto (default)' : 'off',
        `${f(x.items_per_s, 2)} (${x.rounds.map((v) => f(v, 2)).join(', ')})`,
        first ? `**${f(r.ratio, 2)}**` : '',
        f(x.items_per_cpu_s, 2),
        first ? f(r.ratio_per_cpu_s, 2) : '',
        f(x.server_cpus, 2),
        f(x.computed_tokens_per_item, 0),
        f(x.scored_tokens_per_item, 0),
        pct(x.prefix_cache_hit_rate),
        x.prefix_cache_evictions,
        x.reward_cache_hits,
        f(x.mean_batch_size, 2),
        f(x.inference_ms_per_batch, 0),
        x.errors,
      ]);
    }
  };
  const sweep = g.compute?.sweep ?? [];
  const at = (group) => sweep.find((r) => r.group === group);
  if (at(16)) add(`1. per-sample, G=16, ${at(16).clients} clients`, at(16));
  if (g.compute?.rank) add(`2. /v1/rank, a group per request, ${g.compute.rank.clients} clients`, g.compute.rank);
  if (at(1)) add(`3. no shared prefixes (G=1), ${at(1).clients} clients`, at(1));
  if (g.reference) {
    add(`4. reference model, per-sample, G=16, ${g.reference.per_sample.clients} clients`, g.reference.per_sample);
    add(`4. reference model, /v1/rank, ${g.reference.rank.clients} clients`, g.reference.rank);
  }
  for (const r of sweep.filter((x) => x.group !== 16 && x.group !== 1)) add(`5. per-sample, G=${r.group}, ${r.clients} clients`, r);
  const mem = g.memory;
  const poolLine = (name, pool, m) =>
    `${name}: prompts ${m.prompt_tokens} tokens (measured p10/p50/p90 ${pool.prompt_tokens.p10}/${pool.prompt_tokens.p50}/${pool.prompt_tokens.p90}, BOS included), completions ${m.completion_tokens} (${pool.completion_tokens.p10}/${pool.completion_tokens.p50}/${pool.completion_tokens.p90}, EOS included), from ${pool.prompts} prompts (${pool.prompts_tldr} TL;DR, ${pool.unique_key_prompts} with distinct first 16 tokens) and ${pool.completions} distinct completions`;
  return [
    '## Group scoring (prefix sharing)',
    '',
    'Why targets were missed, and what was measured around it: [the section after this block](#group-scoring-prefix-sharing-the-targets-missed-and-why).',
    '',
    `\`${g.command}\` (also run by \`npm run bench\`), ${g.date.slice(0, 16).replace('T', ' ')} UTC${g.quick ? ' (--quick: short windows, smoke test only)' : ''}, ${f(g.minutes)} min, load average at start ${g.machine.load_average_start}, at end ${g.machine.load_average_end}.`,
    '',
    'Settings:',
    '',
    `- Servers: \`warm-serve serve\` processes, ${st.modes.sharing} against \`${st.modes.off}\`, both up during a measurement and measured in alternating windows (on, off, off, on, ...; the first mode alternates between measurements): ${cm.rounds} windows per mode (${st.no_share_rounds} for run 3), each ${cm.seconds} s after ${cm.warmup_s} s of warm-up on the compute model, ${rm.seconds} s after ${rm.warmup_s} s on the reference model; items/s per window in brackets. \`${st.serve_flags}\` in both. Batching: ${st.batching}.`,
    `- Models: ${cm.dir} (bench/make_compute_model.py --max-length 1024 --members 0: the 20.7M-parameter compute model, max_length 1024, a graph with past_key_values) and ${rm.dir} (max_length 128). Every window sends requests no earlier window sent. Code: dist/ built from ${g.code.commit}${g.code.src_modified.length ? ` with uncommitted changes to ${g.code.src_modified.join(', ')}` : ''}.`,
    `- Texts (bench/grpo-data.mjs, token counts by the model's tokenizer): ${poolLine('compute', g.compute?.pool ?? {}, cm)}; ${g.reference ? poolLine('reference', g.reference.pool, rm) : ''}.`,
    `- Per-sample: single-item \`/v1/score\` requests from ${st.clients} clients taking the next request from one queue; a trainer step of ${st.step_items} items (${st.step_items}/G prompts × G completions) is shuffled, so a prompt's completions are interleaved with the other prompts' of its step. Rank: one \`/v1/rank\` request per group of ${st.group}. No shared prefixes: every item its own prompt, no two sharing their first 16 token ids.`,
    '- Columns: items/s is the server\'s: `/metrics` polled every 200 ms, items of the batches started between the first and the last batch start in each window ÷ the time between (`warm_serve_batch_size_sum`), summed over the windows; items per server CPU second: the same items ÷ the server process\'s CPU time over the same spans (/proc; server CPUs = CPU seconds per second, 2 = both cores), the ratio with what other processes on the VM took from the server taken out. Tokens computed per item = tokens per item answered (`warm_serve_scored_tokens_total`) − prefix tokens reused per item batched (`warm_serve_prefix_tokens_reused_total`); these and the cache figures are `/metrics` deltas over the runs. ms per batch: `warm_serve_inference_duration_seconds` per batch the batcher formed (all of the passes its plan ran).',
    '',
    table(['target', 'measured', 'goal', 'met'], g.targets.map(([name, value, goal, met, perCpu]) => [name, `**${name.startsWith('RSS') ? `${f(100 * value)}%` : f(value, 2)}**${perCpu === undefined ? '' : ` (per server CPU second: ${f(perCpu, 2)})`}`, goal, met === null ? '' : met ? 'yes' : '**no**'])),
    '',
    table(['run', 'prefix sharing', 'items/s (per window)', 'sharing ÷ off', 'items per server CPU s', 'sharing ÷ off, per CPU s', 'server CPUs', 'tokens computed / item', 'tokens / item', 'prefix-cache hit rate', 'prefix-cache evictions', 'reward-cache hits', 'mean batch', 'ms per batch', 'errors'], rows),
    '',
    ...(sweep.length
      ? [
          `Group size sweep (compute model, per-sample, ${sweep[0].clients} clients; G=1 is run 3, G=16 run 1):`,
          '',
          table(['G', 'items/s, sharing', 'items/s, off', 'sharing ÷ off', 'sharing ÷ off, per server CPU s', 'tokens computed / item, sharing', 'prefix-cache hit rate'], sweep.map((r) => [r.group, f(r.sharing.items_per_s, 2), f(r.off.items_per_s, 2), f(r.ratio, 2), f(r.ratio_per_cpu_s, 2), f(r.sharing.computed_tokens_per_item, 0), pct(r.sharing.prefix_cache_hit_rate)])),
          '',
          '![items/s against group size, prefix sharing auto and off](plots/grpo-groups.svg)',
          '',
        ]
      : []),
    ...(mem
      ? [
          `Memory (6): a fresh server, sharing on with the default cache (256 MB), per-sample G=${mem.group} traffic from ${mem.clients} clients for ${f(mem.minutes, 0)} min after a ${mem.warmup_s} s warm-up, new prompts throughout (${f(mem.items_per_s, 1)} items/s, ${mem.errors} errors); RSS from /proc every 5 s, the cache from \`warm_serve_prefix_cache_bytes\`:`,
          '',
          table(
            ['RSS idle MB', 'RSS first minute MB', 'RSS max MB', 'RSS last minute MB', 'cache max MB', 'cache full at', 'RSS minute after full → last minute', 'evictions'],
            [[f(mem.rss_mb_idle), f(mem.rss_mb_start), f(mem.rss_mb_max), f(mem.rss_mb_end), f(mem.cache_mb_max), mem.cache_filled_at_s === null ? 'never' : `${f(mem.cache_filled_at_s, 0)} s`, `${f(mem.rss_mb_first_minute_after_fill)} → ${f(mem.rss_mb_end)} MB (${f(100 * mem.growth_after_fill)}%)`, mem.evictions]],
          ),
          '',
          '![RSS and prefix cache under GRPO traffic](plots/grpo-memory.svg)',
          '',
        ]
      : []),
  ].join('\n');
}

/** Markdown for the generated block of RESULTS.md. */
export function renderResults(results) {
  const mc = results.machine;
  const tok = results.tokenization;
  const tokShare = Object.entries(results.models).map(([name, m]) => {
    const share = (r) => `${f((100 * r.server_ms.tokenize_ms) / r.server_ms.total_ms)}%`;
    return `${name}: ${share(at(m.single, 1))} at 1 client, ${share(at(m.single, 64))} at 64 clients`;
  });
  return [
    `Run ${results.date.slice(0, 16).replace('T', ' ')} UTC${results.quick ? ' (--quick: short windows, smoke test only)' : ''}, ${f(results.minutes)} min. ` +
      `Machine: ${mc.cpu}, ${mc.cpus} CPUs (${mc.threads_per_core} thread(s) per core), ${mc.memory_gb} GB RAM, ${mc.os}; Node ${mc.node}, onnxruntime-node ${mc.onnxruntime}. ` +
      `Load average (1/5/15 min) at start ${mc.load_average_start}, at end ${mc.load_average_end}.`,
    '',
    '## Targets',
    '',
    table(['target', 'measured', 'goal', 'met'], targets(results).map(([name, measured, goal, met]) => [name, measured, goal, met ? 'yes' : '**no**'])),
    '',
    '## Measurements',
    '',
    ...Object.values(results.models).map(modelSection),
    '### Tokenization',
    '',
    `\`bench/tokenization.mjs\` (format + \`ModelTokenizer.encode\`, the HF \`tokenizers\` binding; median item ${tok.median_chars} characters, truncated to max_length after encoding):`,
    '',
    table(['encoding', 'items per call', 'concurrent calls', 'items/s', 'tokens/s kept', 'µs per item'], tok.results.map((r) => [r.exact_length === false ? 'tail of long texts' : 'whole text', r.items_per_call, r.concurrent_calls, f(r.items_per_s, 0), f(r.tokens_per_s, 0), f(r.us_per_item, 0)])),
    '',
    `Share of server request time spent tokenizing (mean \`timings.tokenize_ms\` ÷ mean \`timings.total_ms\`, single-item requests): ${tokShare.join('; ')}.`,
    '',
    ...(results.tuning ? [tuningSection(results.tuning)] : []),
    'Plots: [throughput](plots/throughput.svg), [latency](plots/latency.svg), [targets](plots/targets.svg).',
    '',
    '![items/s against clients](plots/throughput.svg)',
    '![p50 and p99 latency against clients](plots/latency.svg)',
    '![target ratios](plots/targets.svg)',
    ...(results.memory ? ['![RSS under sustained load](plots/memory.svg)'] : []),
    ...(results.grpo ? ['', grpoSection(results.grpo)] : []),
  ].join('\n');
}

/**
 * The benchmark suite (`npm run bench`): for the tiny reference model and a compute-bound
 * 21M-parameter model (bench/make_compute_model.py), measure
 *   1. the raw ONNX Runtime ceiling (bench/ceiling.mjs),
 *   2. server throughput and latency under closed-loop load from a separate process
 *      (bench/load.mjs) at concurrency 1..256, single- and multi-item requests,
 *   3. the batching gain (max_batch_size 1 against the defaults),
 *   4. WARM against the ensemble of its members (`serve --ensemble`, aggregate mean),
 *   5. tokenization throughput (bench/tokenization.mjs) and its share of request time,
 *   6. group scoring with and without prefix sharing on GRPO-shaped traffic (bench/grpo.mjs,
 *      its own models at max_length 1024 and 128; run when --models names compute, unless
 *      --skip-grpo; writes bench/grpo.json),
 * then check the targets, write bench/results.json, the plots in bench/plots/ and the generated
 * block of bench/RESULTS.md. Progress goes to stderr.
 *
 *   node bench/run.mjs [--quick] [--models tiny,compute] [--dist DIR] [--no-write] [--skip-grpo]
 *     (with --models naming a subset, the other models' results are kept from bench/results.json,
 *      each marked with the run it came from)
 *   node bench/run.mjs --render   (re-render RESULTS.md and the plots from bench/results.json,
 *                                  picking up a newer bench/memory.json, tuning.json or grpo.json)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from './server.mjs';
import { nodeJson } from './node-json.mjs';
import { renderResults } from './report.mjs';
import { writePlots } from './plots.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    models: { type: 'string', default: 'tiny,compute' },
    dist: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
    'skip-grpo': { type: 'boolean', default: false },
  },
});
const BENCH = import.meta.dirname;
const ROOT = join(BENCH, '..');
const WORK = join(BENCH, '.work');
const scale = values.quick ? 0.25 : 1;
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

/** Per model: how long each load level runs (a slow model needs longer windows for stable tails). */
const MODELS = {
  tiny: { dir: join(WORK, 'tiny'), seconds: (c) => (c >= 64 ? 10 : 8), ensembleConcurrency: 16, ensembleSeconds: 10 },
  compute: { dir: join(WORK, 'compute'), seconds: (c) => (c >= 256 ? 40 : c >= 64 ? 25 : 15), ensembleConcurrency: 16, ensembleSeconds: 25 },
};
const CONCURRENCY = [1, 4, 16, 64, 256];
const MULTI = { items: 16, concurrency: [1, 4, 16] };
// Long queues at 256 clients on the slow model must not time out: this measures latency, not refusal.
const SERVE_FLAGS = ['--queue-timeout-ms', '300000'];
// eventLoopMonitoringPrecision in src/server/metrics.ts: the exported delay includes it.
const LOOP_RESOLUTION_MS = 1;

/** Closed-loop load against `server`; the event-loop delay and batch stats of the run come from /metrics. */
async function load(server, { concurrency, seconds, items = 1, aggregate = 'warm' }) {
  await server.metrics(); // resets the event-loop histogram
  await server.loopProbe(); // and the probe's
  const before = await server.metrics();
  const result = await nodeJson('load.mjs', [
    '--url', server.url, '--concurrency', String(concurrency), '--seconds', String(Math.max(2, seconds * scale)),
    '--warmup', String(values.quick ? 1 : 2), '--items-per-request', String(items), '--aggregate', aggregate,
  ]);
  const after = await server.metrics();
  result.event_loop_probe = await server.loopProbe();
  const delta = (name) => (after[name] ?? 0) - (before[name] ?? 0);
  result.event_loop_p99_ms = 1000 * after.nodejs_eventloop_lag_p99_seconds;
  result.mean_batch_size = delta('warm_serve_batch_size_sum') / delta('warm_serve_batch_size_count');
  result.mean_padding_ratio = delta('warm_serve_batch_padding_ratio_sum') / delta('warm_serve_batch_padding_ratio_count');
  result.rss_mb = after.process_resident_memory_bytes / 2 ** 20;
  log(`  c=${concurrency} x${items} ${aggregate}: ${result.items_per_s.toFixed(1)} items/s, p50 ${result.latency_ms.p50?.toFixed(2)} ms, p99 ${result.latency_ms.p99?.toFixed(1)} ms, batch ${result.mean_batch_size.toFixed(1)}, loop p99 ${result.event_loop_p99_ms.toFixed(1)} ms (over wall time ${result.event_loop_probe.p99.toFixed(1)}), errors ${result.errors}`);
  return result;
}

async function withServer(model, flags, fn) {
  // The loop probe (bench/loop-probe.mjs) cross-checks the exported event-loop delay.
  const server = await startServer(model, [...SERVE_FLAGS, ...flags], { probe: true, ...(values.dist ? { dist: values.dist } : {}) });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

async function benchModel(name) {
  const m = MODELS[name];
  const out = { name };
  log(`${name}: raw ONNX Runtime ceiling`);
  out.ceiling = await nodeJson('ceiling.mjs', [m.dir, '--seconds', String(values.quick ? 1 : 3), '--items', values.quick ? '128' : '256']);
  log(`${name}: ceiling ${out.ceiling.ceiling_items_per_s.toFixed(1)} items/s at batch ${out.ceiling.best_batch_size}, forward pass ${out.ceiling.forward_ms.toFixed(2)} ms`);

  log(`${name}: server, default settings`);
  await withServer(m.dir, [], async (server) => {
    out.single = [];
    for (const c of CONCURRENCY) out.single.push(await load(server, { concurrency: c, seconds: m.seconds(c) }));
    out.multi = [];
    for (const c of MULTI.concurrency) out.multi.push(await load(server, { concurrency: c, seconds: m.seconds(c * MULTI.items), items: MULTI.items }));
  });
  log(`${name}: server, max_batch_size 1`);
  await withServer(m.dir, ['--max-batch-size', '1'], async (server) => {
    out.unbatched = await load(server, { concurrency: 64, seconds: m.seconds(64) });
  });
  log(`${name}: server --ensemble (6 members)`);
  await withServer(m.dir, ['--ensemble'], async (server) => {
    const c = m.ensembleConcurrency;
    out.ensemble = {
      warm: await load(server, { concurrency: c, seconds: m.ensembleSeconds }),
      mean: await load(server, { concurrency: c, seconds: m.ensembleSeconds, aggregate: 'mean' }),
    };
  });
  return out;
}

/** Where the run happened. */
function machine() {
  const lscpu = sh('lscpu', []);
  const field = (key) => new RegExp(`^${key}:\\s*(.+)$`, 'm').exec(lscpu)?.[1];
  return {
    cpu: field('Model name'),
    cpus: cpus().length,
    threads_per_core: field('Thread\\(s\\) per core'),
    memory_gb: Math.round(totalmem() / 2 ** 30),
    free_memory_gb: Math.round(freemem() / 2 ** 30),
    node: process.version,
    onnxruntime: JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version,
    os: sh('uname', ['-sr']),
    load_average_start: loadavg().map((v) => v.toFixed(2)).join(' '),
  };
}

/** A full run: models, every measurement, then the optional results of memory.mjs and tune.mjs. */
async function measureAll() {
  const started = Date.now();
  log('building the benchmark models (skipped when present)');
  execFileSync('/usr/bin/python3', [join(BENCH, 'make_compute_model.py'), '--out', WORK], { stdio: ['ignore', 'inherit', 'inherit'] });
  const results = { date: new Date().toISOString(), quick: values.quick, event_loop_resolution_ms: LOOP_RESOLUTION_MS, machine: machine(), models: {} };
  const names = values.models.split(',');
  for (const name of names) results.models[name] = await benchModel(name);
  log('tokenization');
  results.tokenization = await nodeJson('tokenization.mjs', [MODELS.tiny.dir, '--seconds', values.quick ? '1' : '3']);
  if (names.includes('compute') && !values['skip-grpo']) {
    log('group scoring, prefix sharing auto against off (bench/grpo.mjs)');
    const flags = ['--no-render', ...(values.quick ? ['--quick'] : []), ...(values['no-write'] ? ['--no-write'] : []), ...(values.dist ? ['--dist', values.dist] : [])];
    results.grpo = await nodeJson('grpo.mjs', flags);
  }
  results.machine.load_average_end = loadavg().map((v) => v.toFixed(2)).join(' ');
  results.minutes = (Date.now() - started) / 60000;
  return keepOtherModels(results, names);
}

/** A run of some models only keeps the others' last results, each marked with the run it came from. */
function keepOtherModels(results, names) {
  const file = join(BENCH, 'results.json');
  if (!existsSync(file)) return results;
  const previous = JSON.parse(readFileSync(file, 'utf8'));
  const runOf = (r) => ({ date: r.date, load_average_start: r.machine.load_average_start, load_average_end: r.machine.load_average_end, event_loop_resolution_ms: r.event_loop_resolution_ms });
  const kept = Object.entries(previous.models).filter(([name]) => !names.includes(name));
  if (kept.length === 0) return results;
  for (const name of names) results.models[name].run = runOf(results);
  // Models in the order of the previous file, so the rendered sections keep their order.
  const models = {};
  for (const name of Object.keys(previous.models)) models[name] = names.includes(name) ? results.models[name] : { run: runOf(previous), ...previous.models[name] };
  for (const name of names) models[name] ??= results.models[name];
  return { ...results, models };
}

const results = values.render ? JSON.parse(readFileSync(join(BENCH, 'results.json'), 'utf8')) : await measureAll();
for (const [key, file] of [['memory', 'memory.json'], ['tuning', 'tuning.json'], ['grpo', 'grpo.json']]) {
  // A grpo result of this run (which wrote grpo.json, unless --no-write) comes first.
  if (existsSync(join(BENCH, file)) && !(key === 'grpo' && results.grpo)) results[key] = JSON.parse(readFileSync(join(BENCH, file), 'utf8'));
}
const report = renderResults(results);
console.log(report);
if (!values['no-write']) {
  // memory.json, tuning.json and grpo.json stay files of their own (other commands write them).
  writeFileSync(join(BENCH, 'results.json'), `${JSON.stringify({ ...results, memory: undefined, tuning: undefined, grpo: undefined }, null, 1)}\n`);
  mkdirSync(join(BENCH, 'plots'), { recursive: true });
  writePlots(results, join(BENCH, 'plots'));
  const file = join(BENCH, 'RESULTS.md');
  const BEGIN = '<!-- bench:begin (generated by npm run bench; edits inside are overwritten) -->';
  const END = '<!-- bench:end -->';
  const old = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmark results\n\n${BEGIN}\n${END}\n`;
  const [head, rest] = old.includes(BEGIN) ? old.split(BEGIN) : [old, `\n${END}\n`];
  writeFileSync(file, `${head}${BEGIN}\n${report}\n${END}${rest.split(END)[1] ?? '\n'}`);
  log(`wrote bench/results.json, bench/plots/*.svg and the generated block of bench/RESULTS.md (${results.minutes.toFixed(1)} min)`);
}

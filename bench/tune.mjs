/**
 * Tuning experiments: each knob against the defaults, in one run, so the effect of each change
 * is measured under the same conditions. Writes bench/tuning.json (rendered into RESULTS.md by
 * bench/run.mjs) and prints a markdown table.
 *
 *   node bench/tune.mjs [--quick] [--baseline-dist DIR]
 *
 * Server knobs: a server per variant, closed-loop load from a separate process (bench/load.mjs)
 * at 1 client (latency) and 64 clients (throughput). Engine knobs (threads, graph optimisation,
 * spinning): raw ONNX Runtime through bench/ceiling.mjs. `--baseline-dist` points at a build
 * whose engine runs onnxruntime on the main thread (the code before the worker thread), to
 * measure that change; without it that row is skipped.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { startServer } from './server.mjs';
import { padBatch } from '../dist/model/padded-batch.js';
import { zodSerializerCompiler } from '../dist/server/serializer.js';
import { ScoreResponseSchema } from '../dist/api/schemas.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, 'baseline-dist': { type: 'string' } },
});
const BENCH = import.meta.dirname;
const WORK = join(BENCH, '.work');
const scale = values.quick ? 0.3 : 1;
const log = (msg) => process.stderr.write(`[tune] ${msg}\n`);
const SERVE_FLAGS = ['--queue-timeout-ms', '300000'];

function nodeJson(script, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(BENCH, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${script} exited with ${code}`))));
  });
}

/** One server variant: p50 at 1 client, items/s and event-loop p99 at 64 clients. */
async function serverVariant(model, label, flags, { dist, seconds = 10 } = {}) {
  const server = await startServer(model, [...SERVE_FLAGS, ...flags], dist ? { dist } : {});
  try {
    const run = async (concurrency, s) => {
      await server.metrics();
      const r = await nodeJson('load.mjs', ['--url', server.url, '--concurrency', String(concurrency), '--seconds', String(Math.max(2, s * scale)), '--warmup', '2']);
      r.event_loop_p99_ms = 1000 * (await server.metrics()).nodejs_eventloop_lag_p99_seconds;
      return r;
    };
    const one = await run(1, seconds * 0.6);
    const many = await run(64, seconds);
    const out = { label, flags: flags.join(' ') || '(defaults)', p50_c1_ms: one.latency_ms.p50, items_per_s_c64: many.items_per_s, p99_c64_ms: many.latency_ms.p99, event_loop_p99_c64_ms: many.event_loop_p99_ms };
    log(`${model.split('/').at(-1)} ${label}: c1 p50 ${out.p50_c1_ms.toFixed(2)} ms, c64 ${out.items_per_s_c64.toFixed(1)} items/s, loop p99 ${out.event_loop_p99_c64_ms.toFixed(1)} ms`);
    return out;
  } finally {
    await server.stop();
  }
}

/** Raw engine variant: batch-1 forward pass and items/s at batch 1 and 16. */
async function engineVariant(model, label, args) {
  const r = await nodeJson('ceiling.mjs', [model, '--items', '64', '--seconds', values.quick ? '1' : '3', '--batch-sizes', '1,16', ...args]);
  const out = { label, args: args.join(' ') || '(defaults)', forward_ms: r.forward_ms, items_per_s_b1: r.batches[1].items_per_s, items_per_s_b16: r.batches[16].items_per_s };
  log(`${model.split('/').at(-1)} engine ${label}: ${out.forward_ms.toFixed(2)} ms, b1 ${out.items_per_s_b1.toFixed(1)}, b16 ${out.items_per_s_b16.toFixed(1)} items/s`);
  return out;
}

/** Microbenchmarks of the per-request CPU work that is not the model: tensors and JSON. */
function microbenchmarks() {
  const time = (fn, n) => {
    for (let i = 0; i < n / 10; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    return (1000 * (performance.now() - t0)) / n; // µs
  };
  const sequences = Array.from({ length: 16 }, (_, i) => Int32Array.from({ length: 100 + i }, (_, k) => 3 + ((k * 7) % 500)));
  const layout = { padTokenId: 0, paddingSide: 'right' };
  const viaBigInt = () => {
    const seq = Math.max(...sequences.map((s) => s.length));
    const ids = new BigInt64Array(sequences.length * seq);
    const mask = new BigInt64Array(sequences.length * seq);
    sequences.forEach((s, i) => s.forEach((id, j) => ((ids[i * seq + j] = BigInt(id)), (mask[i * seq + j] = 1n))));
    return ids;
  };
  const response = {
    model: 'warm-stories260k-rm', aggregate: 'warm', rewards: [0.123456789], truncated: [true], tokens: [128],
    timings: { tokenize_ms: 0.61, queue_ms: 0.02, inference_ms: 3.4, total_ms: 4.1 },
  };
  const compiled = zodSerializerCompiler({ schema: ScoreResponseSchema, method: 'POST', url: '/v1/score', httpStatus: '200' });
  return {
    pad_16x128_int32_view_us: time(() => padBatch(sequences, layout, new Set(['input_ids', 'attention_mask'])), 20000),
    pad_16x128_bigint_us: time(viaBigInt, 2000),
    serialize_fast_json_stringify_us: time(() => compiled(response), 200000),
    serialize_json_stringify_us: time(() => JSON.stringify(response), 200000),
  };
}

const tiny = join(WORK, 'tiny');
const compute = join(WORK, 'compute');
const results = { date: new Date().toISOString(), server: [], engine: [], micro: microbenchmarks() };
log(`micro: ${JSON.stringify(results.micro)}`);

const serverVariants = [
  ['defaults', []],
  ['max_queue_delay_ms 1 (the default before 0)', ['--max-queue-delay-ms', '1']],
  ['no length grouping (max_padding_ratio 1)', ['--max-padding-ratio', '1']],
  ['max_batch_tokens 512', ['--max-batch-tokens', '512']],
  ['max_batch_tokens 8192', ['--max-batch-tokens', '8192']],
  ['max_inflight_batches 2', ['--max-inflight-batches', '2']],
  ['intra_op_threads 1', ['--intra-op-threads', '1']],
  ['log_level warn (no per-request line)', ['--log-level', 'warn']],
];
for (const [label, flags] of serverVariants) results.server.push({ model: 'tiny', ...(await serverVariant(tiny, label, flags)) });
if (values['baseline-dist']) {
  results.server.push({ model: 'tiny', ...(await serverVariant(tiny, 'onnxruntime on the main thread (before)', ['--max-queue-delay-ms', '0'], { dist: values['baseline-dist'] })) });
}
const COMPUTE_VARIANTS = ['defaults', 'max_batch_tokens 512', 'intra_op_threads 1'];
for (const [label, flags] of serverVariants.filter(([label]) => COMPUTE_VARIANTS.includes(label))) {
  results.server.push({ model: 'compute', ...(await serverVariant(compute, label, flags, { seconds: 20 })) });
}
if (values['baseline-dist']) {
  results.server.push({ model: 'compute', ...(await serverVariant(compute, 'onnxruntime on the main thread (before)', ['--max-queue-delay-ms', '0'], { dist: values['baseline-dist'], seconds: 20 })) });
}

const engineVariants = [
  ['defaults (all, intra 0 = 1 per core, no spinning)', []],
  ['graph optimisation disabled', ['--graph-optimization', 'disabled']],
  ['graph optimisation basic', ['--graph-optimization', 'basic']],
  ['graph optimisation extended', ['--graph-optimization', 'extended']],
  ['intra-op threads 1', ['--intra-op-threads', '1']],
  ['inter-op threads 2', ['--inter-op-threads', '2']],
  ['spinning on', ['--spinning']],
];
for (const [name, model] of [['tiny', tiny], ['compute', compute]]) {
  for (const [label, args] of engineVariants) results.engine.push({ model: name, ...(await engineVariant(model, label, args)) });
}
writeFileSync(join(BENCH, 'tuning.json'), `${JSON.stringify(results, null, 1)}\n`);
log('wrote bench/tuning.json');

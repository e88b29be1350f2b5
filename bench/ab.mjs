/**
 * A/B of builds (or flags) at one concurrency, interleaved over rounds so slow drifts in machine
 * load hit every variant alike: per round, one server per variant, closed-loop load from
 * bench/load.mjs, then the client p50/p99, the server's own timings, and the exported event-loop
 * p99. Prints one JSON object; each variant's medians over the rounds go to stderr.
 *
 *   node bench/ab.mjs --variant base=/tmp/base/dist --variant new=dist [--variant 'warn=dist --log-level warn']
 *                     [--model bench/.work/tiny] [--concurrency 1] [--seconds 8] [--rounds 3] [--probe]
 *
 * --probe preloads bench/loop-probe.mjs (event-loop delay over wall time) into each server.
 * The JSON names the model and each build relative to the repository root; a build outside it
 * (a scratch build of another commit) is recorded as "outside the repository", so let its label
 * say what it is.
 */
import { spawn } from 'node:child_process';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startServer } from './server.mjs';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    model: { type: 'string', default: join(import.meta.dirname, '.work', 'tiny') },
    concurrency: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    probe: { type: 'boolean', default: false },
  },
});
const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, '..');
/** A path as the report records it: relative to the repository root, never a machine's own folders. */
const recorded = (path) => {
  const rel = relative(ROOT, resolve(path));
  return rel === '' ? '.' : rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? 'outside the repository' : rel;
};
const log = (msg) => process.stderr.write(`[ab] ${msg}\n`);
// "label=DIST --flag value ...": a build directory and optional serve flags.
const variants = (values.variant ?? []).map((spec) => {
  const [label, rest] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
  const [dist, ...flags] = rest.split(' ').filter(Boolean);
  return { label, dist: resolve(dist), flags };
});
if (variants.length === 0) throw new Error('give at least one --variant label=DIST');

function loadRun(url) {
  return new Promise((resolve, reject) => {
    const args = ['--url', url, '--concurrency', values.concurrency, '--seconds', values.seconds, '--warmup', '2'];
    const child = spawn(process.execPath, [join(BENCH, 'load.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load.mjs exited with ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Object.fromEntries(variants.map((v) => [v.label, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const v of variants) {
    const server = await startServer(values.model, ['--queue-timeout-ms', '300000', ...v.flags], { dist: v.dist, probe: values.probe });
    try {
      await server.metrics(); // resets the event-loop histogram
      await server.loopProbe();
      const r = await loadRun(server.url);
      const m = await server.metrics();
      const probe = await server.loopProbe();
      const row = {
        p50_ms: r.latency_ms.p50, p99_ms: r.latency_ms.p99, items_per_s: r.items_per_s, ...r.server_ms,
        event_loop_p99_ms: 1000 * m.nodejs_eventloop_lag_p99_seconds, ...(probe ? { probe_p99_ms: probe.p99, probe_max_ms: probe.max } : {}), load_average: loadavg()[0],
      };
      runs[v.label].push(row);
      log(`round ${round + 1} ${v.label}: p50 ${row.p50_ms.toFixed(2)} ms, ${row.items_per_s.toFixed(1)} items/s, tokenize ${row.tokenize_ms.toFixed(2)}, inference ${row.inference_ms.toFixed(2)}, loop p99 ${row.event_loop_p99_ms.toFixed(1)} ms${probe ? ` (over wall time ${probe.p99.toFixed(1)})` : ''} (load ${row.load_average.toFixed(2)})`);
    } finally {
      await server.stop();
    }
  }
}
const summary = Object.fromEntries(Object.entries(runs).map(([label, rows]) => [label, Object.fromEntries(Object.keys(rows[0]).map((k) => [k, median(rows.map((r) => r[k]))]))]));
for (const [label, s] of Object.entries(summary)) log(`median ${label}: p50 ${s.p50_ms.toFixed(2)} ms, p99 ${s.p99_ms.toFixed(2)}, ${s.items_per_s.toFixed(1)} items/s, tokenize ${s.tokenize_ms.toFixed(2)}, inference ${s.inference_ms.toFixed(2)}, loop p99 ${s.event_loop_p99_ms.toFixed(1)} ms${s.probe_p99_ms !== undefined ? ` (over wall time ${s.probe_p99_ms.toFixed(1)})` : ''}`);
const report = {
  concurrency: Number(values.concurrency),
  seconds: Number(values.seconds),
  model: recorded(values.model),
  variants: variants.map((v) => ({ ...v, dist: recorded(v.dist) })),
  runs,
  summary,
};
console.log(JSON.stringify(report, null, 1));

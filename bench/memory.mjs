/**
 * Resident memory under sustained load (`npm run bench:memory`): a server on the benchmark's
 * tiny model takes closed-loop load from a separate process (bench/load.mjs) for `--minutes`,
 * and its RSS (/proc/PID/status VmRSS) is sampled every 5 s. Growth = mean RSS of the last
 * minute ÷ mean RSS of the first minute after a 30 s warm-up, minus 1. Writes bench/memory.json
 * (read by bench/run.mjs for RESULTS.md) and bench/plots/memory.svg.
 *
 *   node bench/memory.mjs [--minutes 5] [--concurrency 64] [--model bench/.work/tiny]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from './server.mjs';
import { lineChart } from './svg.mjs';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    model: { type: 'string', default: join(import.meta.dirname, '.work', 'tiny') },
  },
});
const BENCH = import.meta.dirname;
const minutes = Number(values.minutes);
const WARMUP_S = 30;
const SAMPLE_S = 5;

execFileSync('/usr/bin/python3', [join(BENCH, 'make_compute_model.py')], { stdio: ['ignore', 'inherit', 'inherit'] });
const server = await startServer(values.model, []);
const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;

const loadProcess = spawn(process.execPath, [
  join(BENCH, 'load.mjs'), '--url', server.url, '--concurrency', values.concurrency,
  '--warmup', String(WARMUP_S), '--seconds', String(minutes * 60),
], { stdio: ['ignore', 'pipe', 'inherit'] });
let loadOut = '';
loadProcess.stdout.on('data', (d) => (loadOut += d));
const loadDone = new Promise((resolve) => loadProcess.once('exit', resolve));

const samples = [];
const t0 = Date.now();
let finished = false;
void loadDone.then(() => (finished = true));
while (!finished) {
  await sleep(SAMPLE_S * 1000);
  const s = (Date.now() - t0) / 1000;
  samples.push([s, rssMb()]);
  if (samples.length % 6 === 0) process.stderr.write(`[memory] ${s.toFixed(0)} s: RSS ${samples.at(-1)[1].toFixed(1)} MB\n`);
}
await server.stop();
const load = JSON.parse(loadOut);

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const measured = samples.filter(([s]) => s >= WARMUP_S);
const first = mean(measured.filter(([s]) => s < WARMUP_S + 60).map(([, r]) => r));
const last = mean(measured.filter(([s]) => s > measured.at(-1)[0] - 60).map(([, r]) => r));
const result = {
  date: new Date().toISOString(),
  model: values.model.split('/').at(-1),
  concurrency: Number(values.concurrency),
  minutes,
  requests: load.requests,
  errors: load.errors,
  items_per_s: load.items_per_s,
  rss_mb_start: first,
  rss_mb_end: last,
  rss_mb_max: Math.max(...measured.map(([, r]) => r)),
  growth: last / first - 1,
  samples,
};
writeFileSync(join(BENCH, 'memory.json'), `${JSON.stringify(result, null, 1)}\n`);
mkdirSync(join(BENCH, 'plots'), { recursive: true });
writeFileSync(join(BENCH, 'plots', 'memory.svg'), lineChart({
  title: `Server RSS under ${values.concurrency} clients (${load.requests} requests)`,
  xLabel: 'seconds',
  yLabel: 'RSS MB',
  linearX: true,
  xTicks: Array.from({ length: Math.floor(samples.at(-1)[0] / 60) + 1 }, (_, i) => i * 60),
  series: [{ name: 'RSS', points: samples }],
}));
console.log(`RSS ${first.toFixed(1)} MB (first minute after warm-up) -> ${last.toFixed(1)} MB (last minute): ${(100 * result.growth).toFixed(1)}% growth; ${load.requests} requests, ${load.errors} errors; wrote bench/memory.json, bench/plots/memory.svg`);

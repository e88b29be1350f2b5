/**
 * Result 5, what ENS costs next to WARM in the server: for M = 2 and M = 6, a plain server on
 * the merged model (WARM) and an `--ensemble` server asked for `aggregate: mean` (ENS), each
 * under the same closed-loop load (bench/load.mjs, separate process) at 1 and 16 clients:
 * latency p50/p99, items/s, and the server's resident memory (VmRSS after the load, VmHWM peak).
 * Configurations run in alternating order over `rounds` rounds, so a change in the machine's
 * background load hits both sides alike; the load average is recorded per run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../bench/server.mjs';
import { REFERENCE, ROOT, WORK } from './rewards.mjs';

const CONCURRENCY = [1, 16];

/** Run bench/load.mjs against `url` and parse its JSON line. */
function loadRun(url, concurrency, seconds, aggregate) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'load.mjs'), '--url', url, '--concurrency', String(concurrency), '--seconds', String(seconds), '--aggregate', aggregate], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load.mjs exited with ${code}`))));
  });
}

/** VmRSS and VmHWM of a process, in MiB. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)[1]) / 1024;
  return { rss_mb: kb('VmRSS'), hwm_mb: kb('VmHWM') };
}

/** The M = 2 model: a uniform merge of the first two best-first members (any two cost the same). */
function mergeM2(log) {
  const curve = join(ROOT, 'docs', 'warm', 'm-curve.json');
  const names = existsSync(curve) ? JSON.parse(readFileSync(curve, 'utf8')).best_first.order.slice(0, 2) : ['member-0', 'member-1'];
  const dir = join(WORK, 'cost-m2');
  rmSync(dir, { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'merge', '--quiet', '--format', 'onnx', '--out', dir, ...names.map((n) => join(REFERENCE, 'members', n))], { stdio: ['ignore', 'ignore', 'inherit'] });
  log(`M = 2 model: uniform merge of ${names.join(' and ')} in ${dir}`);
  return { dir, members: names };
}

/** Measure every configuration; returns the cost.json object. */
export async function measureCost({ seconds, rounds, command, log }) {
  const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
  const started = Date.now();
  const result = { date: new Date().toISOString(), command, load_average_start: load(), seconds, rounds, concurrency: CONCURRENCY };
  const m2 = mergeM2(log);
  const configs = [
    { M: 2, kind: 'WARM', dir: m2.dir, flags: [], aggregate: 'warm' },
    { M: 2, kind: 'ENS', dir: m2.dir, flags: ['--ensemble'], aggregate: 'mean' },
    { M: 6, kind: 'WARM', dir: REFERENCE, flags: [], aggregate: 'warm' },
    { M: 6, kind: 'ENS', dir: REFERENCE, flags: ['--ensemble'], aggregate: 'mean' },
  ];
  result.m2_members = m2.members;
  result.runs = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? configs : [...configs].reverse();
    for (const config of order) {
      const server = await startServer(config.dir, config.flags);
      try {
        const idle = memory(server.pid);
        for (const concurrency of CONCURRENCY) {
          const loadBefore = loadavg()[0];
          const r = await loadRun(server.url, concurrency, seconds, config.aggregate);
          const run = {
            round, M: config.M, kind: config.kind, flags: config.flags, aggregate: config.aggregate, concurrency,
            items_per_s: r.items_per_s, latency_ms: r.latency_ms, server_ms: r.server_ms, requests: r.requests, errors: r.errors,
            idle_rss_mb: idle.rss_mb, ...memory(server.pid), load_1min: [loadBefore, loadavg()[0]],
          };
          if (r.errors) log(`  errors: ${r.errors} (${r.first_error})`);
          log(`round ${round + 1}/${rounds} M=${config.M} ${config.kind} c=${concurrency}: ${r.items_per_s.toFixed(1)} items/s, p50 ${r.latency_ms.p50.toFixed(1)} ms, p99 ${r.latency_ms.p99.toFixed(1)} ms, RSS ${run.rss_mb.toFixed(0)} MiB (peak ${run.hwm_mb.toFixed(0)}), load ${load()}`);
          result.runs.push(run);
        }
      } finally {
        await server.stop();
      }
    }
  }
  result.load_average_end = load();
  result.minutes = (Date.now() - started) / 60000;
  return result;
}

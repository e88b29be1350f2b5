/**
 * Checks the two event-loop delay readings against stalls of known length and frequency: a child
 * process busy-waits `stall` ms every `every` ms for 6 s, under monitorEventLoopDelay at 1 ms
 * resolution (what the server exports) and bench/loop-probe.mjs (delay over wall time). Over wall
 * time, the p99 of a loop stalled a fraction s = stall/every of the time is about
 * stall x (1 - 0.01/s) when s > 1%, and ~1 ms (the tick) otherwise. Prints a markdown table.
 *
 *   node bench/loop-probe-check.mjs
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const CHILD = `
import { monitorEventLoopDelay } from 'node:perf_hooks';
const [stall, every] = process.argv.slice(1).map(Number);
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
const busy = setInterval(() => { const end = performance.now() + stall; while (performance.now() < end); }, every);
setTimeout(() => {
  clearInterval(busy);
  process.kill(process.pid, 'SIGUSR2');
  setTimeout(() => console.log(h.percentile(99) / 1e6), 50);
}, 6000);
`;
const probe = pathToFileURL(join(import.meta.dirname, 'loop-probe.mjs')).href;
const file = join(tmpdir(), `warm-loop-probe-check-${process.pid}.json`);
const rows = [];
for (const [stall, every] of [[15, 100], [5, 50], [15, 500], [30, 1000]]) {
  const exported = Number(execFileSync(process.execPath, ['--import', probe, '--input-type=module', '-e', CHILD, String(stall), String(every)], {
    env: { ...process.env, WARM_BENCH_LOOP_PROBE: file }, encoding: 'utf8',
  }));
  const wall = JSON.parse(readFileSync(file, 'utf8'));
  const share = stall / every;
  const expected = share > 0.01 ? stall * (1 - 0.01 / share) : 1;
  rows.push(`| ${stall} ms every ${every} ms | ${(100 * share).toFixed(0)}% | ${exported.toFixed(1)} | ${wall.p99.toFixed(1)} | ~${expected.toFixed(0)} |`);
}
console.log(['| stalls | time stalled | exported p99 ms (1 ms resolution) | probe p99 ms (over wall time) | expected over wall time |', '| --- | ---: | ---: | ---: | ---: |', ...rows].join('\n'));

/**
 * A cross-check of the server's exported event-loop delay, preloaded into a benchmark server
 * (`node --import bench/loop-probe.mjs`, see bench/server.mjs). monitorEventLoopDelay records one
 * sample per timer tick, so a 15 ms stall is one sample among ~1000 a second at 1 ms resolution
 * (coordinated omission: rare stalls fall out of the p99). Here every 1 ms tick that fell due is
 * recorded with the delay it saw, so a 15 ms stall counts as the ~15 ticks it held up: the
 * percentiles are over wall time, i.e. the wait of an event arriving at a random moment.
 * On SIGUSR2 it writes its percentiles (ms) to $WARM_BENCH_LOOP_PROBE and resets.
 */
import { writeFileSync } from 'node:fs';
import { createHistogram, performance } from 'node:perf_hooks';

const file = process.env.WARM_BENCH_LOOP_PROBE;
const TICK_MS = 1;
const delays = createHistogram();
let due = performance.now() + TICK_MS;

setInterval(() => {
  const now = performance.now();
  // Microseconds, at least 1 (the histogram takes positive integers).
  for (; due <= now; due += TICK_MS) delays.record(Math.max(1, Math.round((now - due) * 1000)));
}, TICK_MS).unref();

if (file) {
  process.on('SIGUSR2', () => {
    const ms = (p) => delays.percentile(p) / 1000;
    writeFileSync(file, JSON.stringify({ p50: ms(50), p90: ms(90), p99: ms(99), max: delays.max / 1000, ticks: delays.count }));
    delays.reset();
  });
}

/**
 * Timing bounds that depend on the machine's speed. A bound that holds passes. A bound that is
 * missed fails only on a machine measured quiet right afterwards; on a busy one it is skipped
 * with its figures and a one-line reason, since a shared 2-core machine (or a loaded CI runner)
 * stalls a process for tens of milliseconds and runs it at a fraction of a core at times.
 *
 * Busy (`machineLoad`): the 1-minute load average is over 2 runnable tasks per CPU (the machine
 * was oversubscribed while the bound was measured, even if the moment after is calm), or, over
 * 300 ms in this process, a 5 ms timer fired more than 20 ms late at least once or a fixed loop
 * got less than half of one core (CPU time ÷ wall time). A test whose bound is about another
 * process adds its own measure (the slowest /health of the idle server:
 * test/serial/request-limits.test.ts).
 */
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';

/** A timer later than this, while idle, means the process waited for a CPU. */
export const BUSY_LATENESS_MS = 20;
/** A loop getting less of a core than this means the CPUs are shared out. */
export const BUSY_CPU_SHARE = 0.5;
/** More runnable tasks per CPU than this, averaged over the last minute, means oversubscribed. */
export const BUSY_LOAD_PER_CPU = 2;

/** What `machineLoad` measured, and whether that is busy. */
export interface MachineLoad {
  busy: boolean;
  /** One line of figures for a skip or failure message. */
  figures: string;
}

/** A loop of ~3 ms of CPU on the development VM. */
function spin(): number {
  let x = 0;
  for (let i = 0; i < 4_000_000; i++) x = (x + Math.imul(i, 2654435761)) | 0;
  return x;
}

/** Measure over `windowMs`: alternately a 5 ms sleep (its lateness) and a fixed loop (its share of a core). */
export async function machineLoad(windowMs = 300): Promise<MachineLoad> {
  let worstLateMs = 0;
  let cpuMs = 0;
  let wallMs = 0;
  spin(); // compiled before it is timed
  const end = performance.now() + windowMs;
  while (performance.now() < end) {
    const slept = performance.now();
    await sleep(5);
    worstLateMs = Math.max(worstLateMs, performance.now() - slept - 5);
    const cpu = process.cpuUsage();
    const wall = performance.now();
    spin();
    wallMs += performance.now() - wall;
    const used = process.cpuUsage(cpu);
    cpuMs += (used.user + used.system) / 1000;
  }
  const share = Math.min(1, cpuMs / wallMs);
  const [load] = loadavg();
  const cpus = availableParallelism();
  return {
    busy: load / cpus > BUSY_LOAD_PER_CPU || worstLateMs > BUSY_LATENESS_MS || share < BUSY_CPU_SHARE,
    figures:
      `load average ${load.toFixed(1)} on ${cpus} CPUs (busy above ${BUSY_LOAD_PER_CPU * cpus}), ` +
      `timers up to ${worstLateMs.toFixed(1)} ms late (busy above ${BUSY_LATENESS_MS}), ` +
      `${(100 * share).toFixed(0)}% of a core (busy below ${100 * BUSY_CPU_SHARE}%)`,
  };
}

/**
 * Assert a timing bound (`holds`; `message` carries the measured figure and the bound). When it
 * is missed, `measure` decides (default `machineLoad`): busy skips with the figures, quiet fails.
 */
export async function checkTiming(t: Test, holds: boolean, message: string, measure: () => Promise<MachineLoad> = machineLoad): Promise<void> {
  if (holds) {
    t.pass(message);
    return;
  }
  const load = await measure();
  if (load.busy) t.pass(message, { skip: `missed, machine too busy to hold it (${load.figures})` });
  else t.fail(`${message} (machine quiet: ${load.figures})`);
}

/** `machineLoad` for a bound about an HTTP server: busy when its /health answers slower than `busyAboveMs` while idle. */
export function idleServerLoad(slowestIdleMs: () => Promise<number>, busyAboveMs = BUSY_LATENESS_MS): () => Promise<MachineLoad> {
  return async () => {
    const slowest = await slowestIdleMs();
    const own = await machineLoad();
    return {
      busy: slowest > busyAboveMs || own.busy,
      figures: `idle server's slowest /health ${slowest.toFixed(1)} ms (busy above ${busyAboveMs}); ${own.figures}`,
    };
  };
}

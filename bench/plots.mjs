/**
 * The benchmark's plots, from the results object of bench/run.mjs, as SVG files (bench/svg.mjs):
 * throughput and latency against clients per model, the target ratios, and with a bench/grpo.mjs
 * result items/s against group size and RSS under GRPO traffic.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, lineChart } from './svg.mjs';

/** Write throughput.svg, latency.svg and targets.svg into `dir`. */
export function writePlots(results, dir) {
  const models = Object.values(results.models);
  // Items/s as a share of each model's own ceiling, so both models fit one axis.
  writeFileSync(join(dir, 'throughput.svg'), lineChart({
    title: 'Server items/s ÷ raw ONNX Runtime ceiling',
    xLabel: 'concurrent clients',
    yLabel: 'share of the ceiling',
    series: models.flatMap((m) => [
      { name: `${m.name}, 1 item/req`, points: m.single.map((r) => [r.concurrency, r.items_per_s / m.ceiling.ceiling_items_per_s]) },
      { name: `${m.name}, ${m.multi[0].items_per_request} items/req`, points: m.multi.map((r) => [r.concurrency, r.items_per_s / m.ceiling.ceiling_items_per_s]) },
    ]),
    hlines: [{ name: 'target 0.85', y: 0.85 }],
  }));
  writeFileSync(join(dir, 'latency.svg'), lineChart({
    title: 'Latency, single-item requests (log2 ms)',
    xLabel: 'concurrent clients',
    yLabel: 'log2(latency ms)',
    series: models.flatMap((m) => [
      { name: `${m.name} p50`, points: m.single.map((r) => [r.concurrency, Math.log2(r.latency_ms.p50)]) },
      { name: `${m.name} p99`, points: m.single.map((r) => [r.concurrency, Math.log2(r.latency_ms.p99)]) },
    ]),
  }));
  const bars = [];
  const compute = results.models.compute;
  if (compute) {
    const c64 = compute.single.find((r) => r.concurrency === 64);
    bars.push({ name: 'compute: server ÷ ceiling', value: c64.items_per_s / compute.ceiling.ceiling_items_per_s });
    bars.push({ name: 'compute: batching gain', value: c64.items_per_s / compute.unbatched.items_per_s });
  }
  for (const m of models) bars.push({ name: `${m.name}: ensemble ÷ WARM`, value: m.ensemble.warm.items_per_s / m.ensemble.mean.items_per_s });
  writeFileSync(join(dir, 'targets.svg'), barChart({ title: 'Target ratios (goals: 0.85, 4, 5)', xLabel: 'ratio', bars }));
  if (results.grpo) grpoPlots(results.grpo, dir);
}

/** The GRPO benchmark's plots (bench/grpo.mjs results): items/s against group size, and RSS over time. */
export function grpoPlots(g, dir) {
  const sweep = g.compute?.sweep;
  if (sweep?.length) {
    writeFileSync(join(dir, 'grpo-groups.svg'), lineChart({
      title: `Per-sample GRPO traffic, ${sweep[0].clients} clients, compute model`,
      xLabel: 'group size G (completions per prompt)',
      yLabel: 'items/s',
      // Bars: the lowest and highest window (the VM's other load moves single windows a lot).
      series: [
        { name: 'prefix sharing auto', points: sweep.map((r) => [r.group, r.sharing.items_per_s, Math.min(...r.sharing.rounds), Math.max(...r.sharing.rounds)]) },
        { name: '--prefix-sharing off', points: sweep.map((r) => [r.group, r.off.items_per_s, Math.min(...r.off.rounds), Math.max(...r.off.rounds)]) },
      ],
    }));
  }
  const mem = g.memory;
  if (mem) {
    writeFileSync(join(dir, 'grpo-memory.svg'), lineChart({
      title: `Server RSS under GRPO traffic (sharing on, ${mem.clients} clients)`,
      xLabel: 'seconds',
      yLabel: 'MB',
      linearX: true,
      xTicks: Array.from({ length: Math.floor(mem.samples.at(-1).s / 60) + 1 }, (_, i) => i * 60),
      series: [
        { name: 'RSS', points: mem.samples.map((x) => [x.s, x.rss_mb]) },
        { name: 'prefix cache', points: mem.samples.map((x) => [x.s, x.cache_mb]) },
      ],
    }));
  }
}

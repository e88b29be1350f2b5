/**
 * Where a forward pass spends its time: ONNX Runtime's own profiler (enableProfiling) over
 * full-length items at batch 1 and batch 16, kernel time summed by operator type, per item.
 * Shows why batching cannot speed up a compute-bound model on a CPU when every item already
 * carries ~128 tokens (the matrix multiplies are large at batch 1).
 *
 *   node bench/profile.mjs [MODEL_DIR] [--runs 5]
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '5' } } });
const dir = positionals[0] ?? join(import.meta.dirname, '.work', 'compute');
const runs = Number(values.runs);
const SEQ = 128;
const WORK = join(import.meta.dirname, '.work');

async function profile(batch) {
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableProfiling: true,
    profileFilePrefix: join(WORK, `ort-profile-b${batch}`),
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const ids = BigInt64Array.from({ length: batch * SEQ }, (_, i) => BigInt(3 + ((i * 7919) % 500)));
  const mask = new BigInt64Array(batch * SEQ).fill(1n);
  const feeds = { input_ids: new ort.Tensor('int64', ids, [batch, SEQ]), attention_mask: new ort.Tensor('int64', mask, [batch, SEQ]) };
  await session.run(feeds); // warm-up, profiled too: dropped below by keeping the last `runs`
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  const wallMs = (performance.now() - t0) / runs;
  session.endProfiling(); // writes PREFIX_<timestamp>.json
  await session.release();
  const file = join(WORK, readdirSync(WORK).filter((f) => f.startsWith(`ort-profile-b${batch}_`)).sort().at(-1));
  const events = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file);
  const runsSeen = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const lastRuns = runsSeen.slice(-runs);
  const from = lastRuns[0].ts;
  const byOp = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    byOp[e.args.op_name] = (byOp[e.args.op_name] ?? 0) + e.dur / 1000 / runs;
  }
  const runMs = lastRuns.reduce((a, e) => a + e.dur / 1000, 0) / runs;
  return { batch, wall_ms: wallMs, run_ms: runMs, byOp };
}

const results = [await profile(1), await profile(16)];
const ops = Object.keys(results[1].byOp).sort((a, b) => results[1].byOp[b] - results[1].byOp[a]);
const lines = [
  `ONNX Runtime profile of ${dir.split('/').at(-1)}: ${SEQ}-token items, mean of ${runs} runs (kernel time per item, ms; share of kernel time)`,
  '',
  '| operator | batch 1: ms/item | share | batch 16: ms/item | share |',
  '| --- | ---: | ---: | ---: | ---: |',
];
const totals = results.map((r) => Object.values(r.byOp).reduce((a, b) => a + b, 0));
for (const op of ops) {
  const cells = results.flatMap((r, i) => [((r.byOp[op] ?? 0) / r.batch).toFixed(3), `${((100 * (r.byOp[op] ?? 0)) / totals[i]).toFixed(1)}%`]);
  lines.push(`| ${op} | ${cells.join(' | ')} |`);
}
lines.push(`| **all kernels** | ${(totals[0]).toFixed(2)} | | ${(totals[1] / 16).toFixed(2)} | |`);
lines.push(`| wall time of run() per item | ${results[0].wall_ms.toFixed(2)} | | ${(results[1].wall_ms / 16).toFixed(2)} | |`);
console.log(lines.join('\n'));

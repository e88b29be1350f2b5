// The report of scripts/gpu/run.sh: WORK's parity.jsonl, load.jsonl and peer.json as
// OUT_DIR/results.json and a markdown table, OUT_DIR/results.md.
//
//   node scripts/gpu/report.mjs WORK DEVICE OUT_DIR
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [work, device, outDir] = process.argv.slice(2);
const lines = (file) => readFileSync(join(work, file), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const parity = lines('parity.jsonl');
const load = lines('load.jsonl');
const peer = JSON.parse(readFileSync(join(work, 'peer.json'), 'utf8'));
let gpu = 'none';
try {
  gpu = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8' }).trim();
} catch {}
const results = { date: new Date().toISOString(), device, gpu, node: process.version, parity, load, peer };
writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);

const f = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const sizes = [...new Set(load.map((r) => r.batch_size))];
const at = (graph, b) => load.find((r) => r.graph === graph && r.batch_size === b)?.result;
const md = [
  `# warm-serve --device ${device}: parity and items/s at 64 clients`,
  '',
  `${results.date}; GPU: ${gpu}; Node ${process.version}. Model: the bench compute model (bench/make_compute_model.py, ~21M parameters, max_length 128), 64 closed-loop clients sending one item per request, distinct texts, prefix sharing and the reward cache off.${device === 'cpu' ? ' **--device cpu: a test run of the script, not GPU figures.**' : ''}`,
  '',
  '| parity check | rewards | max abs diff | bound | ok |',
  '| --- | --- | --- | --- | --- |',
  ...parity.map((p) => `| ${p.check} | ${p.result.rewards} | ${p.result.max_abs_diff.toExponential(2)} | ${p.result.tolerance} | ${p.result.ok ? 'yes' : '**no**'} |`),
  '',
  `| max batch size | warm-serve float32 items/s (mean batch, p50/p99 ms) | warm-serve float16 items/s (mean batch, p50/p99 ms) | ${peer.skipped ? 'peer' : `${peer.peer} ${peer.dtype ?? ''}`} items/s |`,
  '| --- | --- | --- | --- |',
  ...sizes.map((b) => {
    const cell = (r) => (r ? `${f(r.items_per_s)} (${f(r.mean_batch, 1)}, ${f(r.p50_ms)}/${f(r.p99_ms)})${r.errors ? `, ${r.errors} errors` : ''}` : '-');
    return `| ${b} | ${cell(at('compute', b))} | ${cell(at('compute-fp16', b))} | ${f(peer.rows?.find((r) => r.batch_size === b)?.items_per_s)} |`;
  }),
  '',
  `The peer runs forward passes only (no HTTP, tokenization or queue) on random ids of the load's token lengths; its float32 logits equal the exported model's source within ${peer.float32_vs_recipe_max_abs_diff?.toExponential(2)}.${peer.skipped ? ` Peer timing skipped: ${peer.skipped}.` : ''}`,
  '',
];
writeFileSync(join(outDir, 'results.md'), md.join('\n'));
console.log(md.join('\n'));

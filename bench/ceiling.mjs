/**
 * The raw ONNX Runtime ceiling of one model, in its own process: the benchmark items
 * pre-tokenized and pre-padded, grouped by length (perfect grouping, which no online batcher
 * can beat), then only `session.run` (through OnnxEngine.runPadded, the server's own session
 * settings) is timed. Prints one JSON object:
 *   forward_ms   median time of one forward pass at batch 1 over the items' real lengths
 *   batches      items/s per batch size; ceiling = the best of them
 *
 *   node bench/ceiling.mjs MODEL_DIR [--items 400] [--seconds 3] [--batch-sizes 1,4,16,64]
 *                          [--intra-op-threads 0] [--inter-op-threads 0] [--graph-optimization all] [--spinning]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadModelDirectory } from '../dist/model/directory.js';
import { InputFormatter } from '../dist/model/format.js';
import { ModelTokenizer } from '../dist/model/tokenizer.js';
import { padBatch } from '../dist/model/padded-batch.js';
import { createOnnxEngine } from '../dist/scoring/service.js';
import { sampleItems } from './data.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    items: { type: 'string', default: '400' },
    seconds: { type: 'string', default: '3' },
    'batch-sizes': { type: 'string', default: '1,2,4,8,16,32,64' },
    'intra-op-threads': { type: 'string', default: '0' },
    'inter-op-threads': { type: 'string', default: '0' },
    'graph-optimization': { type: 'string', default: 'all' },
    spinning: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const engineOptions = {
  intraOpThreads: Number(values['intra-op-threads']),
  interOpThreads: Number(values['inter-op-threads']),
  graphOptimizationLevel: values['graph-optimization'],
  allowSpinning: values.spinning,
};

const dir = await loadModelDirectory(positionals[0] ?? 'models/reference');
const tokenizer = await ModelTokenizer.load(dir);
const formatter = new InputFormatter(dir);
const items = sampleItems(Number(values.items));
const sequences = (await tokenizer.encode(items.map((item, i) => formatter.format(item, i)))).map((e) => e.ids);
const engine = await createOnnxEngine(dir, tokenizer, engineOptions);
const layout = { padTokenId: tokenizer.padId, paddingSide: dir.paddingSide };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Run pre-padded batches round-robin for `budgetMs` (at least one round of `minRuns`); items/s and ms per run. */
async function timeBatches(padded, budgetMs, minRuns = 1) {
  for (const p of padded.slice(0, 2)) await engine.runPadded(p); // warm-up: allocator, thread pool
  const times = [];
  let items = 0;
  const t0 = performance.now();
  for (let k = 0; performance.now() - t0 < budgetMs || k < minRuns; k++) {
    const p = padded[k % padded.length];
    const t = performance.now();
    await engine.runPadded(p);
    times.push(performance.now() - t);
    items += p.batch;
  }
  return { items_per_s: items / ((performance.now() - t0) / 1000), median_ms: median(times), runs: times.length };
}

const feeds = new Set(engine.inputs);
const single = await timeBatches(sequences.map((s) => padBatch([s], layout, feeds)), seconds * 1000, 50);
const byLength = [...sequences].sort((a, b) => a.length - b.length);
const batches = {};
for (const size of values['batch-sizes'].split(',').map(Number)) {
  const padded = [];
  for (let i = 0; i + size <= byLength.length; i += size) padded.push(padBatch(byLength.slice(i, i + size), layout, feeds));
  // Interleave short and long batches so a short time budget still sees the length mix.
  const order = padded.map((_, i) => (i % 2 === 0 ? i / 2 : padded.length - 1 - (i - 1) / 2));
  batches[size] = await timeBatches(order.map((i) => padded[i]), seconds * 1000, Math.min(padded.length, 4));
  process.stderr.write(`[ceiling] ${dir.name} batch ${size}: ${batches[size].items_per_s.toFixed(1)} items/s\n`);
}
await engine.release();

const best = Object.entries(batches).reduce((a, b) => (b[1].items_per_s > a[1].items_per_s ? b : a));
const lengths = [...sequences].map((s) => s.length).sort((a, b) => a - b);
console.log(JSON.stringify({
  model: dir.name,
  engine: engineOptions,
  items: sequences.length,
  tokens: { p10: lengths[Math.floor(lengths.length * 0.1)], p50: median(lengths), p90: lengths[Math.floor(lengths.length * 0.9)], at_max_length: lengths.filter((n) => n >= dir.maxLength).length / lengths.length },
  forward_ms: single.median_ms,
  batch1_items_per_s: single.items_per_s,
  batches,
  best_batch_size: Number(best[0]),
  ceiling_items_per_s: best[1].items_per_s,
}));

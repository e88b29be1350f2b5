// Throughput and latency of the request path below HTTP, on a model directory.
//
//   npm run build && node bench/service.mjs [model_dir] [--seconds 5] [--threads 0]
//
// 1. one forward pass at batch 1 (median), 2. raw engine items/s per batch size at max_length,
// 3. items/s through the scoring service with 64 concurrent single-item callers (in process),
// for max_inflight_batches 1 and 2. Prints a markdown table; writes bench/.work/service.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadModelDirectory } from '../dist/model/directory.js';
import { ModelTokenizer } from '../dist/model/tokenizer.js';
import { createOnnxEngine, createScoringService } from '../dist/scoring/service.js';
import { seededRandom } from '../scripts/seeded-random.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '0' },
    'max-batch-tokens': { type: 'string' },
    'max-padding-ratio': { type: 'string' },
    'skip-engine': { type: 'boolean', default: false },
  },
});
const modelDir = positionals[0] ?? 'models/reference';
const seconds = Number(values.seconds);
const engineOptions = { intraOpThreads: Number(values.threads) };

// Seeded text of story words so runs are comparable.
const WORDS = 'once upon a time there was little girl named Lily she loved to play outside in the park with her dog Max one day they found big red ball and were very happy'.split(' ');
function text(random, words) {
  return Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

const dir = await loadModelDirectory(modelDir);
const tokenizer = await ModelTokenizer.load(dir);
const engine = await createOnnxEngine(dir, tokenizer, engineOptions);
const random = seededRandom(7);
const [full] = await tokenizer.encode([text(random, 400)]); // truncated to max_length
const results = { model: dir.name, max_length: dir.maxLength, cpus: cpus().length, engine: {}, service: [] };

// Unset knobs keep the batcher's defaults.
const knobs = {};
if (values['max-batch-tokens']) knobs.max_batch_tokens = Number(values['max-batch-tokens']);
if (values['max-padding-ratio']) knobs.max_padding_ratio = Number(values['max-padding-ratio']);
results.batching = knobs;
const engineSizes = values['skip-engine'] ? [] : [1, 2, 4, 8, 16, 32, 64, 128];

// 1. one forward pass at batch 1
for (const length of [32, dir.maxLength]) {
  const ids = full.ids.slice(0, length);
  for (let i = 0; i < 10; i++) await engine.run([ids]);
  const times = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    await engine.run([ids]);
    times.push(performance.now() - t0);
  }
  results.engine[`batch1_len${length}_ms`] = median(times);
}

// 2. raw engine throughput per batch size, every item at max_length (worst case, no padding)
results.engine.items_per_s = {};
for (const batch of engineSizes) {
  const seqs = Array.from({ length: batch }, () => full.ids);
  await engine.run(seqs);
  let items = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < Math.min(2000, seconds * 400)) {
    await engine.run(seqs);
    items += batch;
  }
  results.engine.items_per_s[batch] = items / ((performance.now() - t0) / 1000);
}
await engine.release();

// 3. the service under 64 concurrent single-item callers, texts of mixed length
const texts = Array.from({ length: 2000 }, () => text(random, 5 + Math.floor(random() * 120)));
for (const inflight of [1, 2]) {
  let batches = 0;
  let batchItems = 0;
  let padding = 0;
  const service = await createScoringService(modelDir, {
    batching: { ...knobs, max_inflight_batches: inflight },
    engine: engineOptions,
    observer: { batchFormed: (b) => { batches++; batchItems += b.size; padding += b.paddingRatio; } },
  });
  await service.warmup();
  const latencies = [];
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const caller = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await service.score([{ text: texts[next++ % texts.length] }]);
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 64 }, caller));
  const elapsed = (performance.now() - t0) / 1000;
  await service.drain(5000);
  results.service.push({
    max_inflight_batches: inflight,
    items_per_s: latencies.length / elapsed,
    p50_ms: pct(latencies, 0.5),
    p99_ms: pct(latencies, 0.99),
    mean_batch_size: batchItems / batches,
    mean_padding_ratio: padding / batches,
  });
}

const r = results;
const lines = [
  `model ${r.model} (max_length ${r.max_length}), ${r.cpus} CPUs, intra-op threads ${engineOptions.intraOpThreads || 'auto'}, batching ${JSON.stringify(knobs)}`,
  '',
  `forward pass at batch 1: ${r.engine.batch1_len32_ms.toFixed(2)} ms (32 tokens), ${r.engine[`batch1_len${r.max_length}_ms`].toFixed(2)} ms (${r.max_length} tokens)`,
  '',
  '| batch size | raw engine items/s (all items at max_length) |',
  '| ---: | ---: |',
  ...Object.entries(r.engine.items_per_s).map(([b, v]) => `| ${b} | ${v.toFixed(0)} |`),
  '',
  '| max_inflight_batches | items/s (64 callers, 1 item each) | p50 ms | p99 ms | mean batch | mean padding |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ...r.service.map((s) => `| ${s.max_inflight_batches} | ${s.items_per_s.toFixed(0)} | ${s.p50_ms.toFixed(1)} | ${s.p99_ms.toFixed(1)} | ${s.mean_batch_size.toFixed(1)} | ${(100 * s.mean_padding_ratio).toFixed(1)}% |`),
];
console.log(lines.join('\n'));
await mkdir('bench/.work', { recursive: true });
await writeFile('bench/.work/service.json', JSON.stringify(results, null, 2));

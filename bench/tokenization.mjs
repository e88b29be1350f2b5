/**
 * Tokenization throughput of a model directory's tokenizer on the benchmark items, the way the
 * server does it (format with the manifest template, then ModelTokenizer.encode): one call per
 * item (single-item requests), concurrent calls, and one call per 16 items (multi-item requests),
 * each with full encoding (exactLength, as for truncate: false) and with tail encoding of long
 * texts (what the server does otherwise; src/model/tokenizer-tail.ts). Prints one JSON object.
 *
 *   node bench/tokenization.mjs MODEL_DIR [--items 2000] [--seconds 2]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadModelDirectory } from '../dist/model/directory.js';
import { InputFormatter } from '../dist/model/format.js';
import { ModelTokenizer } from '../dist/model/tokenizer.js';
import { sampleItems } from './data.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { items: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '2' } },
});
const dir = await loadModelDirectory(positionals[0] ?? 'models/reference');
const tokenizer = await ModelTokenizer.load(dir);
const formatter = new InputFormatter(dir);
const items = sampleItems(Number(values.items));
const budgetMs = Number(values.seconds) * 1000;

/** Items/s, tokens/s and characters/s with `callers` concurrent loops of `perCall` items. */
async function measure(perCall, callers, exactLength) {
  let next = 0;
  let done = 0;
  let tokens = 0;
  let chars = 0;
  const t0 = performance.now();
  const loop = async () => {
    while (performance.now() - t0 < budgetMs) {
      const batch = Array.from({ length: perCall }, () => items[next++ % items.length]);
      const texts = batch.map((item, i) => formatter.format(item, i));
      const encoded = await tokenizer.encode(texts, { exactLength });
      done += perCall;
      for (const e of encoded) tokens += e.ids.length;
      for (const t of texts) chars += t.length;
    }
  };
  await Promise.all(Array.from({ length: callers }, loop));
  const s = (performance.now() - t0) / 1000;
  return { items_per_call: perCall, concurrent_calls: callers, exact_length: exactLength, items_per_s: done / s, tokens_per_s: tokens / s, chars_per_s: chars / s, us_per_item: 1e6 * s / done };
}

await measure(1, 1, true); // warm-up
const results = [];
for (const exactLength of [true, false]) {
  for (const [perCall, callers] of [[1, 1], [1, 64], [16, 1]]) results.push(await measure(perCall, callers, exactLength));
}
const lengths = items.map((item, i) => formatter.format(item, i).length).sort((a, b) => a - b);
console.log(JSON.stringify({ model: dir.name, tail_encoding: tokenizer.tailRule !== undefined, median_chars: lengths[Math.floor(lengths.length / 2)], results }));

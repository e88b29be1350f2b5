/**
 * The benchmark's request items: real preference texts from ../shared/data, half TL;DR
 * (post + summary) and half HH-RLHF (dialogue + last answer), as {prompt, completion} items in
 * the recipe's formats (models/recipe/data.py), sampled with a fixed seed so runs compare.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { seededRandom } from '../scripts/seeded-random.mjs';

const DATA = join(import.meta.dirname, '..', '..', 'shared', 'data');
const HH_SUBSETS = ['harmless-base', 'helpful-base', 'helpful-rejection-sampled'];
const ASSISTANT = '\n\nAssistant:';

const jsonLines = (text) => text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line));

/** Every TL;DR summary as an item: the post is the prompt, the summary the completion. */
export function tldrItems() {
  return jsonLines(readFileSync(join(DATA, 'tldr', 'batch13.json'), 'utf8')).flatMap(({ info, summaries }) =>
    summaries.map((s) => ({
      prompt: `SUBREDDIT: r/${info.subreddit}\nTITLE: ${info.title}\nPOST: ${info.post}\n\nTL;DR:`,
      completion: ` ${s.text.replace(/^ +/, '')}`,
    })),
  );
}

/** Every HH answer (chosen and rejected) as an item, split at the last Assistant turn. */
export function hhItems() {
  return HH_SUBSETS.flatMap((subset) =>
    jsonLines(gunzipSync(readFileSync(join(DATA, 'hh-rlhf', subset, 'test.jsonl.gz'))).toString('utf8')).flatMap((row) =>
      [row.chosen, row.rejected].map((text) => {
        const cut = text.lastIndexOf(ASSISTANT) + ASSISTANT.length;
        return { prompt: text.slice(0, cut), completion: text.slice(cut) };
      }),
    ),
  );
}

/** Every preference item of both datasets, TL;DR first, in file order. */
export function allItems() {
  return [...tldrItems(), ...hhItems()];
}

/** `count` items, half from each dataset, in a seeded random order. */
export function sampleItems(count, seed = 1) {
  const random = seededRandom(seed);
  const pick = (pool, n) => Array.from({ length: n }, () => pool[Math.floor(random() * pool.length)]);
  const items = [...pick(tldrItems(), Math.ceil(count / 2)), ...pick(hhItems(), Math.floor(count / 2))];
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * The reference model card (models/reference/README.md) quotes `warm-serve eval` output. This
 * re-runs `warm-serve eval` (model, members, mean member, ensemble) on both splits and fails when
 * the card's tables are no longer, row for row, what warm-serve measures (a changed tokenizer,
 * text rule, export or merge). About 5 minutes of CPU, the longest file of the suite: in its own folder
 * so that it sorts first and starts at once (tap runs files in path order, two at a time).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SHARED_DATA, testWithSharedData } from '../helpers/shared-data.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const card = readFileSync(join(root, 'models', 'reference', 'README.md'), 'utf8');

const SPLITS = [
  { split: 'validation', heading: '### Validation', files: ['tldr/batch13.json', 'hh-rlhf/helpful-base/test.jsonl.gz'] },
  { split: 'ood', heading: '### Out of distribution', files: ['hh-rlhf/helpful-rejection-sampled/test.jsonl.gz'] },
];

/** The table lines of the card's section under `heading`. */
function cardTable(heading: string): string[] {
  const section = card.slice(card.indexOf(heading));
  return section.split('\n').slice(1).filter((line) => line.startsWith('|')).slice(0, 11);
}

for (const { split, heading, files } of SPLITS) {
  testWithSharedData(`model card, ${split}: the table is what warm-serve eval prints`, async (t) => {
    const { stdout } = await run(process.execPath, [
      join(root, 'dist', 'cli', 'main.js'), 'eval',
      '--model', join(root, 'models', 'reference'),
      '--split', `${join(root, 'models', 'recipe', 'splits.json')}:${split}`,
      '--data', ...files.map((f) => join(SHARED_DATA, f)),
    ]);
    const printed = stdout.split('\n').filter((line) => line.startsWith('|'));
    t.equal(printed.length, 11, 'header, rule, model, 6 members, mean member, ensemble');
    t.same(cardTable(heading), printed);
    const warm = printed[2].split('|').map((c) => c.trim());
    t.ok(Number(warm[4].split(' – ')[0]) > 50, `the model's 95% interval lies above chance (${warm[4]})`);
  });
}

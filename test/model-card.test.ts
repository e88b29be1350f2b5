/**
 * The reference model card (models/reference/README.md) quotes `warm-serve eval` output. This
 * re-runs the evaluation of the merged model on both splits and fails when the card's numbers are
 * no longer what warm-serve measures (a changed tokenizer, text rule, export or merge).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const data = join(root, '..', 'shared', 'data');
const card = readFileSync(join(root, 'models', 'reference', 'README.md'), 'utf8');

const SPLITS = [
  { split: 'validation', heading: '### Validation', files: ['tldr/batch13.json', 'hh-rlhf/helpful-base/test.jsonl.gz'] },
  { split: 'ood', heading: '### Out of distribution', files: ['hh-rlhf/helpful-rejection-sampled/test.jsonl.gz'] },
];

/** The "this model" row of the table under `heading`: pairs, accuracy and CI, as printed. */
function cardRow(heading: string): string[] {
  const section = card.slice(card.indexOf(heading));
  const row = section.split('\n').find((line) => line.includes('(this model)'));
  if (!row) throw new Error(`no "(this model)" row under ${heading}`);
  return row.split('|').slice(2, 5).map((cell) => cell.trim());
}

for (const { split, heading, files } of SPLITS) {
  t.test(`model card, ${split}: the merged model's accuracy is what eval measures`, async (t) => {
    const { stdout } = await run(process.execPath, [
      join(root, 'dist', 'cli', 'main.js'), 'eval', '--no-members', '--json',
      '--model', join(root, 'models', 'reference'),
      '--split', `${join(root, 'models', 'recipe', 'splits.json')}:${split}`,
      '--data', ...files.map((f) => join(data, f)),
    ]);
    const { accuracy } = JSON.parse(stdout).rows[0];
    const pct = (x: number) => (100 * x).toFixed(1);
    t.same(cardRow(heading), [String(accuracy.n), pct(accuracy.accuracy), `${pct(accuracy.ci95[0])} – ${pct(accuracy.ci95[1])}`]);
    t.ok(accuracy.ci95[0] > 0.5, `the 95% interval lies above chance (${pct(accuracy.ci95[0])}%)`);
  });
}

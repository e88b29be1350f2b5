import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readPairs, splitDialogue } from '../src/eval/pairs.js';
import { pairwiseAccuracy, wilson } from '../src/eval/accuracy.js';
import { limitPairs } from '../src/eval/pair-files.js';
import type { PairFile } from '../src/eval/pairs.js';

const dir = mkdtempSync(join(tmpdir(), 'warm-eval-'));

t.test('Wilson interval matches published values', async (t) => {
  const [lo, hi] = wilson(50, 100);
  t.ok(Math.abs(lo - 0.4038) < 1e-4 && Math.abs(hi - 0.5962) < 1e-4, `[${lo}, ${hi}]`);
  const [lo0, hi0] = wilson(0, 10);
  t.equal(lo0, 0);
  t.ok(Math.abs(hi0 - 0.2775) < 1e-4, `${hi0}`);
});

t.test('accuracy counts strict wins; ties are wrong', async (t) => {
  const acc = pairwiseAccuracy([1, 2, 3, 0], [0, 2, 4, -1]);
  t.equal(acc.correct, 2);
  t.equal(acc.accuracy, 0.5);
});

t.test('HH dialogues split at the last Assistant tag', async (t) => {
  t.same(splitDialogue('\n\nHuman: hi\n\nAssistant: yo\n\nHuman: and?\n\nAssistant: bye'), {
    prompt: '\n\nHuman: hi\n\nAssistant: yo\n\nHuman: and?\n\nAssistant:',
    completion: ' bye',
  });
});

t.test('reads the three formats, gzipped or not, and drops identical answers', async (t) => {
  const tldr = join(dir, 'tldr.json');
  writeFileSync(
    tldr,
    [
      { info: { post: 'P', title: 'T', subreddit: 'r1' }, summaries: [{ text: ' a' }, { text: ' b' }], choice: 1 },
      { info: { post: 'P', title: 'T', subreddit: 'r1' }, summaries: [{ text: 'same' }, { text: 'same' }], choice: 0 },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const got = await readPairs(tldr);
  t.equal(got.pairs.length, 1);
  t.equal(got.droppedIdentical, 1);
  t.same(got.pairs[0].chosen, { prompt: 'SUBREDDIT: r/r1\nTITLE: T\nPOST: P\n\nTL;DR:', completion: ' b' });
  t.same(got.formats, ['tldr']);

  const hh = join(dir, 'hh.jsonl.gz');
  writeFileSync(hh, gzipSync(JSON.stringify({ chosen: '\n\nHuman: q\n\nAssistant: good', rejected: '\n\nHuman: q\n\nAssistant: bad' }) + '\n'));
  const hhPairs = await readPairs(hh);
  t.same(hhPairs.pairs[0].rejected, { prompt: '\n\nHuman: q\n\nAssistant:', completion: ' bad' });

  const plain = join(dir, 'plain.jsonl');
  writeFileSync(plain, JSON.stringify({ prompt: 'p', chosen: 'c', rejected: 'r' }) + '\n\n' + JSON.stringify({ prompt: 'p', chosen: 'c2', rejected: 'r2' }));
  const selected = await readPairs(plain, new Set([1]));
  t.equal(selected.pairs.length, 1, 'blank lines do not count as rows');
  t.equal(selected.pairs[0].row, 1);
  t.equal((selected.pairs[0].chosen as { completion: string }).completion, 'c2');
});

t.test('bad rows are refused with the file and line', async (t) => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"chosen": "x", "rejected": "y"}\nnot json\n');
  await t.rejects(readPairs(bad), /bad\.jsonl line 2 is not valid JSON/);
  writeFileSync(bad, '{"foo": 1}\n');
  await t.rejects(readPairs(bad), /line 1: expected a TL;DR comparison/);
});

t.test('--limit shares the pairs among the files in proportion to their sizes, the first of each', async (t) => {
  const file = (path: string, n: number): PairFile => ({
    path,
    formats: ['plain'],
    droppedIdentical: 0,
    pairs: Array.from({ length: n }, (_, row) => ({ row, chosen: { text: `${path} ${row} +` }, rejected: { text: `${path} ${row} -` } })),
  });
  const counts = (files: PairFile[], limit: number) => limitPairs(files, limit).taken.map((f) => f.taken);
  t.same(counts([file('a', 300), file('b', 100)], 100), [75, 25], 'proportional');
  t.same(counts([file('a', 3), file('b', 3), file('c', 3)], 4), [2, 1, 1], 'largest remainder, ties to the earlier file');
  t.same(counts([file('a', 1000), file('b', 5)], 100), [100, 0], 'a small file can get none');
  t.same(counts([file('a', 2), file('b', 3)], 100), [2, 3], 'a limit above the total takes everything');
  const { pairs, taken } = limitPairs([file('a', 30), file('b', 10)], 8);
  t.same(pairs.map((p) => (p.chosen as { text: string }).text), ['a 0 +', 'a 1 +', 'a 2 +', 'a 3 +', 'a 4 +', 'a 5 +', 'b 0 +', 'b 1 +'], 'the first pairs of each file');
  t.same(taken, [{ path: 'a', taken: 6, of: 30 }, { path: 'b', taken: 2, of: 10 }]);
});

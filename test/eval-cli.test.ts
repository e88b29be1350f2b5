import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'warm-eval-cli-'));

// Pairs with clearly different completions so that rewards are never tied.
const pairs = Array.from({ length: 24 }, (_, i) => ({
  prompt: `\n\nHuman: question number ${i}?\n\nAssistant:`,
  chosen: ` answer ${'yes '.repeat(1 + (i % 5))}`,
  rejected: ` ${'no, '.repeat(1 + (i % 3))}maybe ${i}`,
}));

async function evaluate(file: string): Promise<{ rows: { model: string; accuracy: { n: number; correct: number; accuracy: number } }[] }> {
  const { stdout } = await run(process.execPath, [cli, 'eval', '--model', 'models/reference', '--data', file, '--json']);
  return JSON.parse(stdout);
}

t.test('swapping chosen and rejected turns accuracy a into 1 - a, for every row', async (t) => {
  const straight = join(dir, 'straight.jsonl');
  const swapped = join(dir, 'swapped.jsonl');
  writeFileSync(straight, pairs.map((p) => JSON.stringify(p)).join('\n'));
  writeFileSync(swapped, pairs.map((p) => JSON.stringify({ ...p, chosen: p.rejected, rejected: p.chosen })).join('\n'));
  const [a, b] = [await evaluate(straight), await evaluate(swapped)];
  t.ok(a.rows.length >= 1);
  t.equal(a.rows.length, b.rows.length);
  for (let i = 0; i < a.rows.length; i++) {
    t.equal(a.rows[i].accuracy.n, pairs.length, `${a.rows[i].model}: all pairs scored`);
    t.ok(Math.abs(a.rows[i].accuracy.accuracy + b.rows[i].accuracy.accuracy - 1) < 1e-9, `${a.rows[i].model}: ${a.rows[i].accuracy.accuracy} vs ${b.rows[i].accuracy.accuracy}`);
  }
});

t.test('bad arguments exit 2 with a message', async (t) => {
  await t.rejects(run(process.execPath, [cli, 'eval', '--model', 'models/reference']), { code: 2, stderr: /--data needs at least one file/ });
  await t.rejects(run(process.execPath, [cli, 'eval', '--data', join(dir, 'straight.jsonl'), '--split', 'nosuch.json:validation']), {
    code: 2,
    stderr: /cannot read split file nosuch\.json/,
  });
  await t.rejects(run(process.execPath, [cli, 'eval', '--data', join(dir, 'straight.jsonl'), '--split', 'models/recipe/splits.json:validation']), {
    code: 2,
    stderr: /straight\.jsonl has no 'validation' rows/,
  });
});

t.test('a data file that cannot be read is one line naming --data, exit 2, before anything is scored', async (t) => {
  const straight = join(dir, 'straight.jsonl');
  writeFileSync(straight, pairs.map((p) => JSON.stringify(p)).join('\n'));
  const corrupt = join(dir, 'corrupt.jsonl.gz');
  writeFileSync(corrupt, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip')]));
  const cases: [string[], RegExp][] = [
    [['nofile.jsonl'], /^warm-serve eval: --data: cannot read nofile\.jsonl: no such file\n$/],
    // The second file is checked before the first is scored.
    [[straight, 'nofile.jsonl'], /^warm-serve eval: --data: cannot read nofile\.jsonl: no such file\n$/],
    [[dir], /^warm-serve eval: --data: cannot read .*: is a directory, not a file\n$/],
    [[corrupt], /^warm-serve eval: --data: cannot read .*corrupt\.jsonl\.gz after line 0: [^\n]+\n$/],
  ];
  for (const [files, message] of cases) {
    const err = await run(process.execPath, [cli, 'eval', '--model', 'models/reference', '--data', ...files]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    t.equal(err?.code, 2, `${files.join(' ')}: exit 2`);
    t.match(err?.stderr, message, `${files.join(' ')}: one line, no stack trace, nothing scored`);
  }
});

t.test('--limit over two files takes from each in proportion, and says so', async (t) => {
  const a = join(dir, 'limit-a.jsonl');
  const b = join(dir, 'limit-b.jsonl');
  writeFileSync(a, pairs.map((p) => JSON.stringify(p)).join('\n'));
  // b's answers are swapped, so which file the pairs come from changes the accuracy.
  writeFileSync(b, pairs.slice(0, 8).map((p) => JSON.stringify({ ...p, prompt: `${p.prompt} (b)`, chosen: p.rejected, rejected: p.chosen })).join('\n'));
  const limited = await run(process.execPath, [cli, 'eval', '--model', 'models/reference', '--no-members', '--limit', '8', '--data', a, b]);
  t.match(limited.stderr, `eval: --limit 8: ${a} (6 of 24 pairs), ${b} (2 of 8 pairs)`);
  t.match(limited.stdout, `Data: ${a} (6 of 24 pairs), ${b} (2 of 8 pairs)\n`);
  // The same 8 pairs in one file give the same table row.
  const same = join(dir, 'limit-same.jsonl');
  const lines = (f: string, n: number) => readFileSync(f, 'utf8').split('\n').slice(0, n);
  writeFileSync(same, [...lines(a, 6), ...lines(b, 2)].join('\n'));
  const expected = await run(process.execPath, [cli, 'eval', '--model', 'models/reference', '--no-members', '--data', same]);
  const row = (stdout: string) => stdout.split('\n').find((l) => l.includes('(this model)'))!.split('|').slice(2).join('|');
  t.equal(row(limited.stdout), row(expected.stdout), 'n, accuracy and interval of the first 6 of a and first 2 of b');
  const json = JSON.parse((await run(process.execPath, [cli, 'eval', '--model', 'models/reference', '--no-members', '--limit', '8', '--json', '--data', a, b])).stdout);
  t.same(json.taken, [{ path: a, taken: 6, of: 24 }, { path: b, taken: 2, of: 8 }]);
  t.equal(json.rows[0].accuracy.n, 8);
});

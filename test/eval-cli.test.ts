import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

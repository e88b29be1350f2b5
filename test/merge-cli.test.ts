import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG, randomFloat, writeHfModel } from './fixtures/merge/builders.js';
import { tempDir } from './fixtures/merge/run-merge.js';

/** Runs `warm-serve merge ...` as a real process (the TypeScript entry point, through tap's loader). */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [...process.execArgv, 'src/cli/main.ts', 'merge', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tensors = (seed: number) => [randomFloat('a.weight', 'F32', [4, 4], seed), randomFloat('b.bias', 'F16', [4], seed + 1)];

t.test('--help documents the options', async (t) => {
  const r = cli(['--help']);
  t.equal(r.code, 0);
  for (const flag of ['--out', '--format', '--weights', '--force', '--name', '--quiet', 'safetensors | onnx | all']) t.match(r.stdout, flag);
});

t.test('a merge writes the model and prints only a summary when stderr is not a terminal', async (t) => {
  const root = tempDir();
  const a = writeHfModel(join(root, 'a'), tensors(1));
  const b = writeHfModel(join(root, 'b'), tensors(1));
  const r = cli(['--out', join(root, 'out'), '--weights', '1,2', a, b]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '');
  t.notMatch(r.stderr, /\r/, 'no live progress line');
  t.match(r.stderr, /safetensors: 2 tensors averaged, 0 copied/);
  t.match(r.stderr, /wrote 6 files to .*out \(see MERGE\.md\)/);
  const card = readFileSync(join(root, 'out', 'MERGE.md'), 'utf8');
  t.match(card, `warm-serve merge --out ${join(root, 'out')} --weights 1,2 ${a} ${b}`, 'the command is recorded');
  t.equal(JSON.parse(readFileSync(join(root, 'out', 'warm.json'), 'utf8')).name, 'out', 'named after the output directory');
  const q = cli(['--quiet', '--force', '--name', 'my-rm', '-o', join(root, 'out'), a, b]);
  t.equal(q.code, 0);
  t.match(q.stderr, /^warning: .*identical float weights\n$/, '--quiet: warnings only');
  t.equal(JSON.parse(readFileSync(join(root, 'out', 'warm.json'), 'utf8')).name, 'my-rm', '--name');
});

t.test('refusals exit 1 with the message; usage errors (bad option values) exit 2', async (t) => {
  const root = tempDir();
  const a = writeHfModel(join(root, 'a'), tensors(1));
  const b = writeHfModel(join(root, 'b'), [randomFloat('a.weight', 'F32', [4, 5], 2), randomFloat('b.bias', 'F16', [4], 3)]);
  const c = writeHfModel(join(root, 'c'), tensors(2), { config: { ...CONFIG, vocab_size: 99 } });
  let r = cli(['--out', join(root, 'out'), a, b]);
  t.equal(r.code, 1);
  t.match(r.stderr, `warm-serve merge: ${b} tensor 'a.weight': shape [4, 5] differs from the first input's [4, 4]`);
  r = cli(['--out', join(root, 'out'), '--weights', '1,-2', a, c]);
  t.equal(r.code, 2, 'a bad option value is a usage error');
  t.match(r.stderr, /--weights: weight 2 is -2/);
  r = cli(['--out', join(root, 'out'), a, c]);
  t.equal(r.code, 1);
  t.match(r.stderr, /config\.json differs from the first input's at 'vocab_size' \(99 vs 16\)/);
  r = cli(['--out', 'x', '--format', 'gguf', a, b]);
  t.equal(r.code, 2, 'usage error');
  t.match(r.stderr, /--format: 'gguf' is not one of safetensors, onnx, all/);
  t.notOk(existsSync(join(root, 'out', 'model.safetensors')));
});

t.test('the same input given twice opens each file once (no handle left to the garbage collector)', async (t) => {
  const root = tempDir();
  const member = 'models/reference/members/member-0';
  const r = cli(['--out', join(root, 'out'), '--weights', '1,3', member, member]);
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /DEP0137|FileHandle/, 'no file handle closed on garbage collection');
  for (const file of ['model.safetensors', 'model.onnx']) {
    const a = readFileSync(join(member, file));
    const merged = readFileSync(join(root, 'out', file));
    t.ok(merged.length > 0, `${file} written`);
    // identical inputs average to themselves; only provenance metadata differs in size
    t.ok(Math.abs(merged.length - a.length) < 4096, `${file}: same size as the input up to metadata`);
  }
});

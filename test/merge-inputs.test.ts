/**
 * `warm-serve merge` checks every file and split it will read before it scores a model or writes
 * a file (issue 18.2): a bad --data, --calibrate or --split is one line naming that option, exit
 * 2, and the output directory stays as it was. A merge also removes the partial files that a
 * killed merge left in its output directory.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomFloat, writeHfModel } from './fixtures/merge/builders.js';
import { merge, tempDir } from './fixtures/merge/run-merge.js';
import { selectMembers } from '../src/merge/select/selection.js';
import { StagedOutput } from '../src/merge/staged-output.js';

const MEMBERS = ['models/reference/members/member-0', 'models/reference/members/member-1'];

/** Runs `warm-serve merge ...` as a real process (the build, as `npm test` makes it first). */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'merge', ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

const root = tempDir('warm-merge-inputs-');
const good = join(root, 'good.jsonl');
writeFileSync(good, [0, 1, 2].map((i) => JSON.stringify({ prompt: `story ${i}:`, chosen: ' a kind dog', rejected: ` the the ${i}` })).join('\n'));
const badLine = join(root, 'bad-line.jsonl');
writeFileSync(badLine, `${JSON.stringify({ prompt: 'p', chosen: 'a', rejected: 'b' })}\n{not json\n`);

/** The refusal: exit 2, one error line matching `message` (after progress lines, if any), nothing in `out`. */
function refused(t: Tap.Test, args: string[], message: RegExp) {
  const out = join(root, `out-${Math.random().toString(36).slice(2)}`);
  const r = cli(['--out', out, ...args, ...MEMBERS]);
  t.equal(r.code, 2, `exit 2: ${r.stderr}`);
  t.match(r.stderr, message);
  t.match(r.stderr, /(^|\n)warm-serve merge: [^\n]+\n$/, 'the error is the last line');
  t.equal(r.stderr.match(/^warm-serve merge: /gm)?.length, 1, 'one error line');
  t.notMatch(r.stderr, /Unhandled|node:events|\n\s+at /, 'no stack trace');
  t.same(existsSync(out) ? readdirSync(out) : [], [], 'nothing written');
}

t.test('a missing --data file: one line naming --data, exit 2 (was an unhandled error event)', async (t) => {
  refused(t, ['--select', 'top-k', '--k', '1', '--data', join(root, 'nofile.jsonl')], /--data: cannot read .*nofile\.jsonl: no such file/);
});

t.test('a missing --calibrate file is refused before the merge writes anything, naming --calibrate', async (t) => {
  refused(t, ['--calibrate', join(root, 'missing.jsonl')], /^warm-serve merge: --calibrate: cannot read .*missing\.jsonl: no such file/);
});

t.test('a --calibrate file without rows in the --split is refused before writing, naming --calibrate', async (t) => {
  refused(t, ['--split', 'models/recipe/splits.json:validation', '--calibrate', good], /--calibrate: .*good\.jsonl has no 'validation' rows in models\/recipe\/splits\.json/);
});

t.test('every file is read before scoring: a bad --calibrate line stops a --data selection before it scores', async (t) => {
  refused(t, ['--select', 'top-k', '--k', '1', '--data', good, '--calibrate', badLine], /--calibrate: .*bad-line\.jsonl line 2 is not valid JSON/);
});

t.test('--split without --data or --calibrate is a usage error', async (t) => {
  refused(t, ['--split', 'models/recipe/splits.json:validation'], /--split: selects rows of the --data and --calibrate files/);
});

t.test('an output that already holds a merge is refused before any scoring without --force', async (t) => {
  const out = join(root, 'held');
  mkdirSync(out);
  writeFileSync(join(out, 'warm.json'), '{}');
  const r = cli(['--out', out, '--select', 'top-k', '--k', '1', '--data', good, ...MEMBERS]);
  t.equal(r.code, 1);
  t.match(r.stderr, /already holds warm\.json; pass --force/);
  t.notMatch(r.stderr, /scoring input/, 'refused before scoring');
});

/** The pid of a process that has exited: no process runs under it. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

t.test('partial files of killed merges (their pid not running) are removed; those of running processes are kept', async (t) => {
  const a = writeHfModel(join(root, 'st-a'), [randomFloat('w', 'F32', [4, 4], 1)]);
  const b = writeHfModel(join(root, 'st-b'), [randomFloat('w', 'F32', [4, 4], 2)]);
  const out = join(root, 'killed');
  mkdirSync(out);
  const dead = await deadPid();
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.teardown(() => void sleeper.kill());
  const files = {
    dead: `.model.safetensors.${dead}.partial`,
    deadManifest: `.warm.json.${dead}.partial`,
    live: `.model.safetensors.${sleeper.pid}.partial`,
    notOurs: '.notes.partial',
  };
  for (const f of Object.values(files)) writeFileSync(join(out, f), 'x'.repeat(1000));
  const { stderr } = await merge([a, b], out, { format: 'safetensors' });
  const left = readdirSync(out);
  t.notOk(left.includes(files.dead), 'a dead merge\'s partial is removed');
  t.notOk(left.includes(files.deadManifest), 'every file of the dead merge is removed');
  t.ok(left.includes(files.live), 'a running process\'s partial is kept');
  t.ok(left.includes(files.notOurs), 'a file without a pid is not ours');
  t.match(stderr, new RegExp(`removed 2 partial file\\(s\\) of merges that were killed: .*${dead}`));
  t.ok(left.includes('model.safetensors') && left.includes('warm.json'), 'the merge itself is written');
});

t.test('internal refusals are catalogue errors too: a bad K, an output file staged twice', async (t) => {
  const accuracy = { n: 1, correct: 1, accuracy: 1, ci95: [0, 1] as [number, number] };
  const scorer = { candidate: async () => accuracy, average: async () => accuracy };
  await t.rejects(selectMembers('top-k', ['a', 'b'], scorer, 3), { type: 'validation_error', message: /^--k: must be an integer from 1 to the number of inputs \(2\); got 3/ });
  const stage = new StagedOutput(tempDir());
  stage.path('model.onnx');
  t.throws(() => stage.path('model.onnx'), { type: 'merge_error', message: /output file model\.onnx was staged twice/ });
});

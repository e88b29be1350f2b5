/**
 * `warm-serve score` as a process on the reference model: JSON Lines in, the same lines plus
 * rewards out, in input order, equal to the scoring service's rewards; stdin/stdout and gzip;
 * ensemble aggregates; every refusal names the line or the flag. Runs the built CLI (dist/).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createScoringService } from '../src/scoring/service.js';
import type { ScoreInput } from '../src/scoring/types.js';

const CLI = path.join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const REFERENCE = path.join(import.meta.dirname, '..', 'models', 'reference');
const dir = mkdtempSync(path.join(tmpdir(), 'score-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** 300 items of the three shapes and varied lengths, each with an id to echo. */
const items: (ScoreInput & { id: number })[] = Array.from({ length: 300 }, (_, i) => {
  const answer = ` ${'The cat sat on the mat. '.repeat(1 + (i % 7))}Answer ${i}.`;
  if (i % 3 === 0) return { id: i, prompt: `Human: question ${i}?\n\nAssistant:`, completion: answer };
  if (i % 3 === 1) return { id: i, text: `Human: question ${i}?\n\nAssistant:${answer}` };
  return { id: i, messages: [{ role: 'user', content: `question ${i}?` }, { role: 'assistant', content: answer }] };
});
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

function score(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // From a scratch directory: the default model is the bundled one, wherever the command runs.
    const proc = spawn(process.execPath, [CLI, 'score', '--threads', '1', ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
    proc.stdin.end(stdin ?? '');
  });
}

const expected = (async () => {
  const service = await createScoringService(REFERENCE, { ensemble: true });
  const plain = items.map(({ id: _, ...item }) => item as ScoreInput);
  const warm = (await service.score(plain)).items;
  const withMembers = (await service.score(plain, { aggregate: 'uwo', returnMembers: true })).items;
  const memberNames = service.info.ensemble!.members;
  await service.drain(1000);
  return { warm, withMembers, memberNames };
})();

t.test('a file in, the same lines plus rewards out, in order, equal to the service', async (t) => {
  const input = path.join(dir, 'items.jsonl');
  // A blank line in the middle is skipped.
  writeFileSync(input, jsonl(items.slice(0, 150)) + '\n' + jsonl(items.slice(150)));
  const output = path.join(dir, 'scored.jsonl');
  const run = await score(['--input', input, '--output', output]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stderr, /score: 300 items, [\d.]+ s, \d+ items\/s\n$/, 'progress ends with the total');
  const rows = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  const { warm } = await expected;
  t.equal(rows.length, 300);
  t.same(rows.map((r) => r.id), items.map((i) => i.id), 'input order');
  t.same(rows.map(({ reward, truncated, tokens, ...rest }) => rest), items, 'input fields echoed unchanged');
  t.same(rows.map((r) => r.reward), warm.map((i) => i.reward), 'rewards equal the scoring service');
  t.same(rows.map((r) => r.tokens), warm.map((i) => i.tokens));
  t.same(rows.map((r) => r.truncated), warm.map((i) => i.truncated));
});

t.test('stdin to stdout, and gzipped input', async (t) => {
  const piped = await score([], jsonl(items.slice(0, 10)));
  t.equal(piped.code, 0, piped.stderr);
  const gz = path.join(dir, 'items.jsonl.gz');
  writeFileSync(gz, gzipSync(jsonl(items.slice(0, 10))));
  const zipped = await score(['--input', gz]);
  t.equal(zipped.code, 0, zipped.stderr);
  t.equal(zipped.stdout, piped.stdout);
  const { warm } = await expected;
  t.same(piped.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).reward), warm.slice(0, 10).map((i) => i.reward));
});

t.test('--ensemble: uwo with members and their variance, as the service computes them', async (t) => {
  const run = await score(['--ensemble', '--aggregate', 'uwo', '--return-members'], jsonl(items.slice(0, 20)));
  t.equal(run.code, 0, run.stderr);
  const rows = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  const { withMembers, memberNames } = await expected;
  t.ok(memberNames.length >= 2);
  // Named as the server names them (/v1/score members[k] = {name, rewards}), one reward per line.
  const named = (rewards: number[]) => rewards.map((reward, k) => ({ name: memberNames[k], reward }));
  t.same(rows.map((r) => [r.reward, r.members, r.uncertainty]), withMembers.slice(0, 20).map((i) => [i.reward, named(i.members!), i.uncertainty]));
  for (const r of rows) {
    const rewards: number[] = r.members.map((m: { reward: number }) => m.reward);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const variance = rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / rewards.length;
    t.ok(Math.abs(r.uncertainty - variance) < 1e-9 && Math.abs(r.reward - (mean - 0.5 * variance)) < 1e-9, 'uwo = mean − 0.5·variance');
  }
});

t.test('a refused line stops the run there; every line before it is written', async (t) => {
  const { warm } = await expected;
  const long = { id: 'long', text: 'word '.repeat(400) };
  for (const [name, args, bad] of [
    ['a bad line', [], '{"text": oops}'],
    ['an item too long for --no-truncate', ['--no-truncate'], JSON.stringify(long)],
  ] as const) {
    // Line 150 is refused: it falls inside the third chunk of 64, after two scored chunks.
    const input = path.join(dir, 'stop.jsonl');
    writeFileSync(input, jsonl(items.slice(0, 149)) + bad + '\n' + jsonl(items.slice(149)));
    const output = path.join(dir, 'stop.out.jsonl');
    const run = await score([...args, '--input', input, '--output', output]);
    t.equal(run.code, 2, `${name}: exit 2`);
    t.match(run.stderr, /warm-serve score: line 150: /, `${name}: names line 150`);
    const rows = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    t.same(rows.map((r) => r.id), items.slice(0, 149).map((i) => i.id), `${name}: lines 1-149 written, in order`);
    t.same(rows.map((r) => r.reward), warm.slice(0, 149).map((i) => i.reward));
  }
});

t.test('refusals name the line, the field or the flag', async (t) => {
  const cases: [string, string[], string | undefined, RegExp][] = [
    ['not JSON', [], `${jsonl(items.slice(0, 2))}{"text": \n`, /^warm-serve score: line 3: not JSON/m],
    ['not an object', [], '[1, 2]\n', /line 1: expected a JSON object, one item per line/],
    ['a missing field', [], jsonl([...items.slice(0, 4), { id: 'x', prompt: 'only a prompt' }]), /line 5: completion: is required/],
    ['a wrong type', [], jsonl([{ text: 42 }]), /line 1: text: expected string/],
    ['too long with --no-truncate', ['--no-truncate'], jsonl([...items.slice(0, 69), { text: 'word '.repeat(400) }]), /line 70: \d+ tokens \(special tokens included\) exceed max_length 128; shorten the item or drop --no-truncate to truncate it$/m],
    ['an aggregate without --ensemble', ['--aggregate', 'min'], '', /--aggregate min needs the members: add --ensemble/],
    ['members without --ensemble', ['--return-members'], '', /--return-members needs the members: add --ensemble/],
    ['an unknown aggregate', ['--aggregate', 'max'], '', /--aggregate must be one of warm, mean, min, uwo \(got 'max'\)/],
    ['an output in a missing folder', ['--output', path.join(dir, 'no', 'such', 'out.jsonl')], '', /--output .*out\.jsonl: cannot write \(ENOENT\)/],
    ['a missing input file', ['--input', path.join(dir, 'nope.jsonl')], undefined, /--input .*nope\.jsonl: no such readable file/],
  ];
  for (const [name, args, stdin, message] of cases) {
    const run = await score(args, stdin);
    t.equal(run.code, 2, `${name}: exit 2`);
    t.match(run.stderr, message, `${name}: ${run.stderr.split('\n')[0]}`);
  }
});

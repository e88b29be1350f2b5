/**
 * `merge --select top-k|greedy --data` and `merge --calibrate` on the reference model's real
 * members (WARM_ENSEMBLE_TEST_MODEL points at another model directory with members), with a
 * small plain {prompt, chosen, rejected} file written here. Every recorded accuracy is checked
 * against an independent scoring of the model it describes.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { run as mergeCli } from '../src/cli/merge.js';
import { loadModelDirectory } from '../src/model/directory.js';
import { loadMemberDirectories } from '../src/model/members.js';
import { selectiveMerge, type SelectiveMergeOptions } from '../src/merge/select/selective-merge.js';
import { createScoringService } from '../src/scoring/service.js';
import type { ScoreInput } from '../src/scoring/types.js';
import { storyPairs, tempDir } from './fixtures/merge/run-merge.js';

const MODEL = resolve(process.env.WARM_ENSEMBLE_TEST_MODEL ?? new URL('../models/reference', import.meta.url).pathname);
const dir = tempDir('warm-select-');

const pairs = storyPairs(20);
const dataFile = join(dir, 'held-out.jsonl');
writeFileSync(dataFile, pairs.map((p) => JSON.stringify(p)).join('\n'));
const calibrationFile = join(dir, 'calibration.jsonl');
writeFileSync(calibrationFile, pairs.slice(0, 12).map((p) => JSON.stringify({ ...p, prompt: `${p.prompt} (calibration)` })).join('\n'));

type Json = Record<string, any>;

/** Accuracy of the model in `modelDir` on `pairs`, scored here independently of src/merge. */
async function accuracyOf(modelDir: string): Promise<number> {
  const service = await createScoringService(modelDir);
  try {
    const items: ScoreInput[] = pairs.flatMap((p) => [{ prompt: p.prompt, completion: p.chosen }, { prompt: p.prompt, completion: p.rejected }]);
    const { items: scored } = await service.score(items);
    let correct = 0;
    for (let i = 0; i < pairs.length; i++) if (scored[2 * i].reward > scored[2 * i + 1].reward) correct++;
    return correct / pairs.length;
  } finally {
    await service.drain(1000);
  }
}

async function merge(opts: Partial<SelectiveMergeOptions> & { inputs: string[]; out: string }) {
  const stderr = new PassThrough();
  let log = '';
  stderr.on('data', (c) => (log += c));
  const summary = await selectiveMerge({ format: 'onnx', force: false, quiet: false, command: 'test', stderr, ...opts });
  return { summary, log, manifest: JSON.parse(readFileSync(join(opts.out, 'warm.json'), 'utf8')) as Json, card: readFileSync(join(opts.out, 'MERGE.md'), 'utf8') };
}

let members: string[];
const accuracy = new Map<string, number>();

t.before(async () => {
  // Three members give top-k a choice and greedy two steps, at half the scoring time of all six.
  members = (await loadMemberDirectories(await loadModelDirectory(MODEL))).map((m) => m.path).slice(0, 3);
  if (members.length < 3) throw new Error(`${MODEL}/warm.json lists ${members.length} members; selection tests need at least 3`);
  for (const m of members) accuracy.set(m, await accuracyOf(m));
});

t.test('top-k keeps the K most accurate members and records every accuracy', async (t) => {
  const out = join(dir, 'top2');
  const { manifest, card, log } = await merge({ inputs: members, out, select: 'top-k', k: 2, data: [dataFile] });
  const sel = manifest.merge.selection;
  t.equal(sel.method, 'top-k');
  t.equal(sel.k, 2);
  t.equal(sel.pairs, pairs.length);
  t.same(sel.candidates.map((c: Json) => c.input).sort(), [...members].sort(), 'every member scored');
  for (const c of sel.candidates) t.ok(Math.abs(c.accuracy - accuracy.get(c.input)!) < 1e-9, `${c.input}: recorded ${c.accuracy}`);
  const sorted = [...sel.candidates].map((c: Json) => c.accuracy);
  t.same(sorted, [...sorted].sort((a, b) => b - a), 'candidates best first');
  const best = [...members].sort((a, b) => accuracy.get(b)! - accuracy.get(a)!);
  t.equal(Math.min(...sel.kept.map((k: string) => accuracy.get(k)!)), accuracy.get(best[1]), 'no dropped member beats a kept one');
  t.same(sel.kept, sel.candidates.slice(0, 2).map((c: Json) => c.input));
  t.same(manifest.members.map((m: Json) => resolve(out, m.path)).sort(), [...sel.kept].sort(), 'warm.json members are the kept ones');
  t.ok(Math.abs(sel.merged.accuracy - (await accuracyOf(out))) < 1e-9, 'merged accuracy is the output model\'s');
  t.match(card, /## Member selection: top-k \(the K most accurate\), K = 2/);
  t.match(manifest.description, /^WARM merge: the uniform weight average of 2 fine-tuned reward models \(.+\), selected by top-k from 3 candidates; see MERGE\.md\.$/);
  t.equal(card.match(/\| (yes|no) \|$/gm)?.length, members.length, 'one card row per candidate');
  t.match(log, /scoring input 1\/\d+/, 'progress is shown');
});

t.test('keeping one member (top-k 1) writes exactly its weights; the weight-0 runner-up is not a member', async (t) => {
  const out = join(dir, 'top1');
  const two = members.slice(0, 2);
  const { manifest, card } = await merge({ inputs: two, out, select: 'top-k', k: 1, data: [dataFile] });
  const [kept] = manifest.merge.selection.kept;
  t.equal(kept, [...two].sort((a, b) => accuracy.get(b)! - accuracy.get(a)!)[0]);
  t.same(manifest.merge.weights, [1, 0], 'the kept member first with weight 1, the runner-up with 0');
  t.equal(resolve(out, manifest.merge.inputs[0].path), kept);
  t.same(manifest.members.map((m: Json) => resolve(out, m.path)), [kept]);
  t.match(card, /runner-up .* was added with weight 0/);
  const items: ScoreInput[] = pairs.slice(0, 4).map((p) => ({ prompt: p.prompt, completion: p.chosen }));
  const [a, b] = await Promise.all([out, kept].map(async (d) => {
    const service = await createScoringService(d);
    const scored = (await service.score(items)).items.map((i) => i.reward);
    await service.drain(1000);
    return scored;
  }));
  t.same(a, b, 'the output scores exactly like the kept member');
});

t.test('greedy soup: best first, keeps a member only when the average does not get worse', async (t) => {
  const out = join(dir, 'greedy');
  const { manifest, card, summary } = await merge({ inputs: members, out, select: 'greedy', data: [dataFile] });
  const sel = manifest.merge.selection;
  t.equal(sel.steps.length, members.length - 1, 'one step per candidate after the best');
  t.equal(sel.kept[0], sel.candidates[0].input, 'starts from the most accurate member');
  t.same(sel.steps.map((s: Json) => s.added), sel.candidates.slice(1).map((c: Json) => c.input), 'tries candidates best first');
  let running = sel.candidates[0].accuracy;
  const kept = [sel.kept[0]];
  for (const step of sel.steps) {
    t.equal(step.kept, step.accuracy >= running, `${step.added}: kept iff ${step.accuracy} >= ${running}`);
    if (step.kept) {
      running = step.accuracy;
      kept.push(step.added);
    }
  }
  t.same(sel.kept, kept);
  t.same(summary.selection!.kept, kept);

  // The first step really scored the weight average of the two best members.
  const pairOut = join(dir, 'first-step');
  await merge({ inputs: [sel.candidates[0].input, sel.candidates[1].input], out: pairOut });
  t.ok(Math.abs((await accuracyOf(pairOut)) - sel.steps[0].accuracy) < 1e-9, 'step 1 accuracy is that of the averaged model');
  t.match(card, /Greedy steps, best first/);
  t.match(card, /\| 0 \| `.+` \(start\) \|/);
});

t.test('--calibrate stores the merged model\'s reward mean and std as normalization', async (t) => {
  const out = join(dir, 'calibrated');
  const { manifest, card } = await merge({ inputs: members, out, calibrate: [calibrationFile] });
  const { mean, std } = manifest.normalization;
  t.same(manifest.merge.calibration.texts, 24);
  t.equal(manifest.merge.calibration.mean, mean);
  t.ok(std > 0);
  // Served through the normalisation, the calibration texts now have mean 0 and std 1.
  const service = await createScoringService(out);
  const texts = readFileSync(calibrationFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).flatMap((p: Json) => [
    { prompt: p.prompt, completion: p.chosen },
    { prompt: p.prompt, completion: p.rejected },
  ]);
  const rewards = (await service.score(texts)).items.map((i) => i.reward);
  await service.drain(1000);
  const m = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  const s = Math.sqrt(rewards.reduce((a, r) => a + (r - m) ** 2, 0) / rewards.length);
  t.ok(Math.abs(m) < 1e-4, `mean ${m}`);
  t.ok(Math.abs(s - 1) < 1e-4, `std ${s}`);
  t.match(card, /## Reward calibration/);
  t.notOk(manifest.merge.selection, 'no selection without --data');
});

t.test('refusals name the flag and the fix', async (t) => {
  const out = join(dir, 'refused');
  await t.rejects(merge({ inputs: members, out, select: 'greedy' }), { message: /--data: --select greedy ranks the inputs by held-out accuracy/ });
  await t.rejects(merge({ inputs: members, out, select: 'top-k', data: [dataFile] }), { message: /--k: --select top-k needs --k/ });
  await t.rejects(merge({ inputs: members, out, select: 'top-k', k: members.length + 1, data: [dataFile] }), { message: /--k: .*from 1 to/ });
  await t.rejects(merge({ inputs: members, out, select: 'greedy', data: [dataFile], format: 'safetensors' }), { message: /--format: .*needs model\.onnx/ });
  await t.rejects(merge({ inputs: members, out, select: 'greedy', data: [dataFile], weights: members.map(() => '1').join(',') }), {
    message: /--weights: cannot be combined with --select or --data/,
  });

  // Safetensors-only inputs cannot be scored: the error says why and what to do.
  const stOnly = [0, 1].map((i) => {
    const d = join(dir, `st-only-${i}`);
    mkdirSync(d);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) copyFileSync(join(MODEL, f), join(d, f));
    return d;
  });
  await t.rejects(merge({ inputs: stOnly, out, select: 'top-k', k: 1, data: [dataFile], format: 'all' }), {
    message: /has no model\.onnx: .*safetensors weights cannot be scored.*Export the inputs to ONNX/,
  });
  await t.rejects(merge({ inputs: stOnly, out, calibrate: [calibrationFile], format: 'all' }), { message: /has no model\.onnx/ });

  t.equal(await mergeCli(['--out', out, '--select', 'best', ...members]), 2, 'unknown --select is a usage error');
  t.equal(await mergeCli(['--out', out, '--select', 'top-k', '--k', 'two', ...members]), 2, 'non-integer --k is a usage error');
});

/**
 * One reward scale for every aggregate (issue 18.1b): after `merge --calibrate` the members
 * served by `serve --ensemble` are calibrated on the same texts as the merged model, so `warm`,
 * the member rewards, `mean`, `min` and `uwo` are in the same units. Checked through a real
 * server over HTTP: identical members give exactly the merged model's reward under every
 * aggregate, and different members each serve mean 0 / std 1 on the calibration texts, as the
 * merged model does. An uncalibrated merge serves every member raw, like the merged model.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { ServeConfigSchema } from '../src/config/schema.js';
import { selectiveMerge, type SelectiveMergeOptions } from '../src/merge/select/selective-merge.js';
import { startServer } from '../src/server/start.js';
import { storyPairs, tempDir } from './fixtures/merge/run-merge.js';

const MODEL = resolve(process.env.WARM_ENSEMBLE_TEST_MODEL ?? new URL('../models/reference', import.meta.url).pathname);
const MEMBERS = JSON.parse(readFileSync(join(MODEL, 'warm.json'), 'utf8')).members.map((m: { path: string }) => resolve(MODEL, m.path)) as string[];
const dir = tempDir('warm-calibrate-ensemble-');

type Json = Record<string, any>;

const pairs = storyPairs(12);
const calibrationFile = join(dir, 'calibration.jsonl');
writeFileSync(calibrationFile, pairs.map((p) => JSON.stringify(p)).join('\n'));
const calibrationItems = pairs.flatMap((p) => [{ prompt: p.prompt, completion: p.chosen }, { prompt: p.prompt, completion: p.rejected }]);
const OTHER_ITEMS = [
  { prompt: 'The dog', completion: ' ran to the park.' },
  { text: 'Tim had a red ball and a big smile.' },
  { prompt: 'Once upon a time', completion: ' the sky fell down.' },
];

/** A copy of ONNX member `src` named `name` (no safetensors: the merge is ONNX only), with `manifest` edits. */
function copyMember(src: string, name: string, manifest: Json = {}): string {
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx']) copyFileSync(join(src, f), join(out, f));
  const own = JSON.parse(readFileSync(join(src, 'warm.json'), 'utf8'));
  writeFileSync(join(out, 'warm.json'), JSON.stringify({ ...own, name, ...manifest }));
  return out;
}

async function merge(opts: Partial<SelectiveMergeOptions> & { inputs: string[]; out: string }): Promise<Json> {
  await selectiveMerge({ format: 'onnx', force: false, quiet: true, command: 'test', stderr: new PassThrough(), ...opts });
  return JSON.parse(readFileSync(join(opts.out, 'warm.json'), 'utf8'));
}

/** Every aggregate's rewards for `items` from `model` served with --ensemble (without: warm only) over real HTTP. */
async function served(t: Tap.Test, model: string, items: object[], ensemble = true): Promise<Record<string, Json>> {
  const server = await startServer(ServeConfigSchema.parse({ host: '127.0.0.1', port: 0, log_level: 'silent', model, ensemble }));
  t.teardown(() => server.stop());
  const out: Record<string, Json> = {};
  for (const aggregate of ensemble ? ['warm', 'mean', 'min', 'uwo'] : ['warm']) {
    const res = await fetch(`${server.url}/v1/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items, aggregate, ...(ensemble ? { return_members: true } : {}) }),
    });
    t.equal(res.status, 200, aggregate);
    out[aggregate] = (await res.json()) as Json;
  }
  return out;
}

const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: m, std: Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length) };
};

t.test('merge --calibrate of identical members: every aggregate equals warm, through serve --ensemble', async (t) => {
  const a = copyMember(MEMBERS[0], 'same-a');
  const b = copyMember(MEMBERS[0], 'same-b');
  const out = join(dir, 'identical');
  const manifest = await merge({ inputs: [a, b], out, calibrate: [calibrationFile] });

  const res = await served(t, out, [...OTHER_ITEMS, ...calibrationItems.slice(0, 4)]);
  const warm = res.warm.rewards as number[];
  const raw = (await served(t, MEMBERS[0], OTHER_ITEMS, false)).warm.rewards as number[];
  t.ok(warm.slice(0, OTHER_ITEMS.length).every((r, i) => Math.abs(r - raw[i]) > 1e-3), 'warm is the calibrated reward, not the raw logit');
  for (const aggregate of ['mean', 'min', 'uwo']) {
    (res[aggregate].rewards as number[]).forEach((r, i) => t.ok(Math.abs(r - warm[i]) < 1e-6, `${aggregate} item ${i}: ${r} = warm ${warm[i]}`));
  }
  for (const member of res.mean.members as Json[]) {
    (member.rewards as number[]).forEach((r, i) => t.ok(Math.abs(r - warm[i]) < 1e-6, `member ${member.name} item ${i}: ${r} = warm ${warm[i]}`));
  }

  t.ok(manifest.normalization, 'the merged model is calibrated');
  t.same(manifest.members.map((m: Json) => m.normalization), [manifest.normalization, manifest.normalization], 'each member is calibrated, here to the same scale');
  t.same(manifest.merge.calibration.members?.map((m: Json) => m.name), ['same-a', 'same-b']);
  t.match(readFileSync(join(out, 'MERGE.md'), 'utf8'), /\| `same-a` \| /, 'MERGE.md lists each member\'s scale');
});

t.test('merge --calibrate of different members: each member serves mean 0, std 1 on the calibration texts, like warm', async (t) => {
  const out = join(dir, 'different');
  const manifest = await merge({ inputs: MEMBERS.slice(0, 2), out, calibrate: [calibrationFile] });
  t.equal(manifest.members.length, 2);
  t.ok(manifest.members.every((m: Json) => m.normalization && m.normalization.std > 0), 'every member has its own normalization');
  t.not(manifest.members[0].normalization?.mean, manifest.members[1].normalization?.mean, 'measured per member');
  const res = await served(t, out, calibrationItems);
  const scales = [{ name: 'warm', rewards: res.warm.rewards }, ...(res.warm.members as Json[])].map((m) => ({ name: m.name, ...meanStd(m.rewards) }));
  for (const s of scales) {
    t.ok(Math.abs(s.mean) < 1e-4, `${s.name}: mean ${s.mean}`);
    t.ok(Math.abs(s.std - 1) < 1e-4, `${s.name}: std ${s.std}`);
  }
  const mean = meanStd(res.mean.rewards).mean;
  t.ok(Math.abs(mean) < 1e-4, `the mean aggregate is centred like warm (${mean})`);
});

t.test('an uncalibrated merge serves members raw like the merged model, even when they carry their own normalization', async (t) => {
  const a = copyMember(MEMBERS[0], 'own-a', { normalization: { mean: 3, std: 2 } });
  const b = copyMember(MEMBERS[0], 'own-b', { normalization: { mean: -1, std: 5 } });
  const out = join(dir, 'uncalibrated');
  const manifest = await merge({ inputs: [a, b], out });
  t.notOk(manifest.normalization, 'the merged model is raw');
  t.same(manifest.members.map((m: Json) => m.normalization), [{ mean: 0, std: 1 }, { mean: 0, std: 1 }], 'the members\' own normalizations are overridden by the identity');
  const res = await served(t, out, OTHER_ITEMS);
  const warm = res.warm.rewards as number[];
  for (const aggregate of ['mean', 'min', 'uwo']) {
    (res[aggregate].rewards as number[]).forEach((r, i) => t.ok(Math.abs(r - warm[i]) < 1e-6, `${aggregate} item ${i}: ${r} = warm ${warm[i]}`));
  }
});

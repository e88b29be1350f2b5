/**
 * Ensemble mode end to end: the reference model and the members its warm.json lists, behind
 * real servers on ephemeral ports, over real HTTP. One server runs with --ensemble (and a
 * non-default λ so the uwo formula is checked against the configured value), one without.
 * WARM_ENSEMBLE_TEST_MODEL points the test at another model directory with members.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { ServeConfigSchema, type ServeConfig } from '../src/config/schema.js';
import { loadModelDirectory, type ModelDirectory } from '../src/model/directory.js';
import { loadMemberDirectories } from '../src/model/members.js';
import { createScoringService } from '../src/scoring/service.js';
import { startServer, type RunningServer } from '../src/server/start.js';

const MODEL = resolve(process.env.WARM_ENSEMBLE_TEST_MODEL ?? new URL('../models/reference', import.meta.url).pathname);
const LAMBDA = 0.75;

type Json = Record<string, any>;

function testConfig(overrides: Partial<ServeConfig> = {}): ServeConfig {
  return ServeConfigSchema.parse({ host: '127.0.0.1', port: 0, log_level: 'silent', model: MODEL, ...overrides });
}

async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json };
}

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

const ITEMS = [
  { prompt: 'Once upon a time', completion: ' there was a cat.' },
  { prompt: 'Once upon a time', completion: ' the sky fell down and nobody cared at all.' },
  { text: 'Lily went to the park and played with her friends all day.' },
  { messages: [{ role: 'user', content: 'Tell me a story.' }, { role: 'assistant', content: 'Tim had a red ball.' }] },
  { prompt: 'The dog', completion: ' ran.' },
];
const COMPLETIONS = [' there was a cat.', ' a big bad wolf ate everyone.', ' Lily smiled.', ' the end', ' a boy found a shiny stone by the river.'];

/** The normalisation the ensemble server's manifest sets for its first member, overriding the member's own. */
const OVERRIDE = { mean: 0.25, std: 4 };

let ensemble: RunningServer;
let plain: RunningServer;
let memberNames: string[];
let memberDirs: ModelDirectory[];

t.before(async () => {
  // Three members keep start-up short (one ONNX session each) and still disagree.
  memberDirs = (await loadMemberDirectories(await loadModelDirectory(MODEL))).slice(0, 3);
  memberNames = memberDirs.map((m) => m.name);
  if (memberNames.length < 2) throw new Error(`${MODEL}/warm.json lists ${memberNames.length} members; the ensemble tests need at least 2`);
  // The ensemble server serves a copy of the model directory whose warm.json lists those members
  // and overrides the first one's normalisation.
  const copy = mkdtempSync(join(tmpdir(), 'warm-ensemble-'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx']) symlinkSync(join(MODEL, f), join(copy, f));
  const manifest = JSON.parse(readFileSync(join(MODEL, 'warm.json'), 'utf8'));
  manifest.members = memberDirs.map((m, k) => ({ name: m.name, path: m.path, ...(k === 0 ? { normalization: OVERRIDE } : {}) }));
  writeFileSync(join(copy, 'warm.json'), JSON.stringify(manifest));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  [ensemble, plain] = await Promise.all([
    startServer(testConfig({ model: copy, ensemble: true, uwo_lambda: LAMBDA, max_queue_delay_ms: 20 })),
    startServer(testConfig({ max_queue_delay_ms: 20 })),
  ]);
});
t.teardown(async () => {
  await Promise.all([ensemble?.stop(), plain?.stop()]);
});

/** Population variance, written out independently of src/scoring/aggregate.ts. */
function populationVariance(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / xs.length;
}

/** members[k].rewards[i] -> the M rewards of item i. */
function perItem(members: { rewards: number[] }[], i: number): number[] {
  return members.map((m) => m.rewards[i]);
}

t.test('/v1/info reports the ensemble', async (t) => {
  const on = (await (await fetch(`${ensemble.url}/v1/info`)).json()) as Json;
  t.same(on.ensemble, { enabled: true, members: memberNames, uwo_lambda: LAMBDA });
  const off = (await (await fetch(`${plain.url}/v1/info`)).json()) as Json;
  t.same(off.ensemble, { enabled: false, members: [], uwo_lambda: 0.5 }, 'λ defaults to 0.5');
});

t.test('return_members: every member reward, their population variance, and each aggregate computed from them', async (t) => {
  const byAggregate: Record<string, Json> = {};
  for (const aggregate of ['warm', 'mean', 'min', 'uwo']) {
    const res = await post(ensemble.url, '/v1/score', { items: ITEMS, aggregate, return_members: true });
    t.equal(res.status, 200, aggregate);
    t.equal(res.json.aggregate, aggregate);
    byAggregate[aggregate] = res.json;
  }
  const { members, uncertainty } = byAggregate.mean;
  t.same(members.map((m: Json) => m.name), memberNames, 'one entry per member, in /v1/info order');
  t.ok(members.every((m: Json) => m.rewards.length === ITEMS.length), 'one reward per item per member');
  t.equal(uncertainty.length, ITEMS.length);
  for (const agg of ['warm', 'min', 'uwo']) t.same(byAggregate[agg].members, members, `${agg}: the same member rewards`);

  let disagreement = 0;
  ITEMS.forEach((_, i) => {
    const rewards = perItem(members, i);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const variance = populationVariance(rewards);
    disagreement = Math.max(disagreement, variance);
    t.ok(close(uncertainty[i], variance), `item ${i}: uncertainty ${uncertainty[i]} is the population variance ${variance}`);
    t.ok(close(byAggregate.mean.rewards[i], mean), `item ${i}: mean`);
    t.equal(byAggregate.min.rewards[i], Math.min(...rewards), `item ${i}: min`);
    t.ok(close(byAggregate.uwo.rewards[i], mean - LAMBDA * variance), `item ${i}: uwo = mean − ${LAMBDA}·variance`);
  });
  t.ok(disagreement > 0, 'the members disagree somewhere (otherwise this test could not tell the aggregates apart)');

  const plainRes = await post(plain.url, '/v1/score', { items: ITEMS });
  t.equal(plainRes.status, 200);
  t.equal(plainRes.json.aggregate, 'warm', 'warm is the default');
  t.notOk('members' in plainRes.json, 'no member output unless asked');
  plainRes.json.rewards.forEach((r: number, i: number) =>
    t.ok(Math.abs(r - byAggregate.warm.rewards[i]) < 1e-5, `item ${i}: warm equals the non-ensemble server's reward`),
  );
  const defaultRes = await post(ensemble.url, '/v1/score', { items: ITEMS });
  t.notOk('uncertainty' in defaultRes.json, 'ensemble server without return_members: no member output');
  defaultRes.json.rewards.forEach((r: number, i: number) => t.ok(Math.abs(r - plainRes.json.rewards[i]) < 1e-5, `item ${i}: default is warm`));

  const noMembers = await post(ensemble.url, '/v1/score', { items: ITEMS, aggregate: 'min' });
  t.notOk('members' in noMembers.json, 'a non-warm aggregate alone does not add member output');
  t.same(noMembers.json.rewards, byAggregate.min.rewards);
});

t.test('/v1/rank orders by the chosen aggregate', async (t) => {
  const prompt = 'Once upon a time';
  for (const aggregate of ['warm', 'mean', 'min', 'uwo']) {
    const scored = await post(ensemble.url, '/v1/score', {
      items: COMPLETIONS.map((completion) => ({ prompt, completion })),
      aggregate,
    });
    const ranked = await post(ensemble.url, '/v1/rank', { prompt, completions: COMPLETIONS, aggregate, return_members: true });
    t.equal(ranked.status, 200);
    t.equal(ranked.json.aggregate, aggregate);
    ranked.json.rewards.forEach((r: number, i: number) => t.ok(Math.abs(r - scored.json.rewards[i]) < 1e-5, `${aggregate}: completion ${i}`));
    const expected = [...ranked.json.rewards.keys()].sort((a, b) => ranked.json.rewards[b] - ranked.json.rewards[a]);
    t.same(ranked.json.ranking.map((r: Json) => r.index), expected, `${aggregate}: best first by the aggregate`);
    t.equal(ranked.json.best_index, expected[0]);
    t.equal(ranked.json.members.length, memberNames.length);
    ranked.json.ranking.forEach((r: Json) => t.equal(r.uncertainty, ranked.json.uncertainty[r.index], 'ranking entries carry the uncertainty'));
  }
});

t.test('without --ensemble, member output is a 422 naming the field and the flag', async (t) => {
  const expect422 = (t: Test, res: { status: number; json: Json }, field: string) => {
    t.equal(res.status, 422);
    t.equal(res.json.error_type, 'validation_error');
    t.match(res.json.error, new RegExp(`^${field}: .*--ensemble`));
  };
  for (const aggregate of ['mean', 'min', 'uwo']) {
    expect422(t, await post(plain.url, '/v1/score', { items: ITEMS, aggregate }), 'aggregate');
    expect422(t, await post(plain.url, '/v1/rank', { prompt: 'a', completions: ['b', 'c'], aggregate }), 'aggregate');
  }
  expect422(t, await post(plain.url, '/v1/score', { items: ITEMS, return_members: true }), 'return_members');
  expect422(t, await post(plain.url, '/v1/rank', { prompt: 'a', completions: ['b'], return_members: true }), 'return_members');
  const bad = await post(ensemble.url, '/v1/score', { items: ITEMS, aggregate: 'median' });
  t.equal(bad.status, 422);
  t.match(bad.json.error, /aggregate/);
});

t.test('batch invariance in ensemble mode: alone, batched and concurrent give the same rewards', async (t) => {
  const batched = await post(ensemble.url, '/v1/score', { items: ITEMS, aggregate: 'uwo', return_members: true });
  // Concurrent single-item requests, some without member output, share batches with each other.
  const singles = await Promise.all(
    ITEMS.flatMap((item) => [
      post(ensemble.url, '/v1/score', { items: [item], aggregate: 'uwo', return_members: true }),
      post(ensemble.url, '/v1/score', { items: [item] }),
    ]),
  );
  let worst = 0;
  ITEMS.forEach((_, i) => {
    const alone = singles[2 * i].json;
    worst = Math.max(worst, Math.abs(alone.rewards[0] - batched.json.rewards[i]), Math.abs(alone.uncertainty[0] - batched.json.uncertainty[i]));
    alone.members.forEach((m: Json, k: number) => (worst = Math.max(worst, Math.abs(m.rewards[0] - batched.json.members[k].rewards[i]))));
  });
  t.ok(worst <= 1e-5, `max |alone - batched| = ${worst.toExponential(2)}`);
});

t.test("member rewards are each member's own model, normalised as the manifest says", async (t) => {
  const res = await post(ensemble.url, '/v1/score', { items: ITEMS, return_members: true });
  // Two members checked against their own model directories: the overridden one and one with its own normalisation.
  for (const k of [0, memberDirs.length - 1]) {
    const member = memberDirs[k];
    const alone = await createScoringService(member.path, { batching: { max_queue_delay_ms: 0 } });
    const own = await alone.score(ITEMS);
    await alone.drain(1000);
    const ownNorm = (await loadModelDirectory(member.path)).normalization ?? { mean: 0, std: 1 };
    t.equal(res.json.members[k].name, member.name);
    own.items.forEach((item, i) => {
      // Undo the member directory's own normalisation, apply the one the ensemble should use.
      const raw = item.reward * ownNorm.std + ownNorm.mean;
      const expected = k === 0 ? (raw - OVERRIDE.mean) / OVERRIDE.std : item.reward;
      t.ok(Math.abs(res.json.members[k].rewards[i] - expected) < 1e-5, `member ${member.name}, item ${i}`);
    });
  }
});

t.test('--ensemble on a model whose warm.json lists no members fails start-up with a clear message', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'warm-no-members-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.onnx']) symlinkSync(join(MODEL, f), join(tmp, f));
  writeFileSync(join(tmp, 'warm.json'), JSON.stringify({ max_length: 128 }));
  await t.rejects(startServer(testConfig({ model: tmp, ensemble: true })), { type: 'model_error', message: /ensemble mode needs members, but warm\.json lists none/ });
});

/**
 * The evidence for WARM in docs/WARM.md, computed on the reference model's six members
 * (models/reference/members) with the server's own code (dist/): needs `npm run build`.
 *
 *   node scripts/evidence/warm-evidence.mjs accuracy [--seeds 5]
 *       results 1 and 2: interpolation between two members and the M curve, on the validation
 *       and OOD splits -> docs/warm/interpolation.json, docs/warm/m-curve.json
 *   node scripts/evidence/warm-evidence.mjs cost [--seconds 10] [--rounds 2]
 *       result 5: WARM vs ENS servers at M = 2 and M = 6 under the same load -> docs/warm/cost.json
 *   node scripts/evidence/warm-evidence.mjs render
 *       the SVG plots in docs/warm/ and the generated tables in docs/WARM.md, from the JSON files
 *
 * Every subcommand renders after measuring. Progress goes to stderr. Merges and cached rewards
 * live in os.tmpdir()/warm-evidence (a rerun rescored nothing it already scored).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { interpolation } from './interpolation.mjs';
import { mCurve } from './m-curve.mjs';
import { pairMetrics, unanimity } from './metrics.mjs';
import { openBank, ROOT, SPLIT_FILES } from './rewards.mjs';
import { measureCost } from './cost.mjs';
import { render } from './render.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seeds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
  },
});
const OUT = join(ROOT, 'docs', 'warm');
const started = Date.now();
const log = (msg) => process.stderr.write(`[warm-evidence ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
const command = (sub, extra = []) => ['node', 'scripts/evidence/warm-evidence.mjs', sub, ...extra].join(' ');
const write = (name, obj) => {
  writeFileSync(join(OUT, name), `${JSON.stringify(obj, null, 1)}\n`);
  log(`wrote docs/warm/${name}`);
};

async function accuracy() {
  const context = { date: new Date().toISOString(), command: command('accuracy', ['--seeds', values.seeds]), load_average_start: load() };
  const bank = await openBank(log);
  const splits = Object.fromEntries(Object.entries(bank.splits).map(([k, s]) => [k, { files: SPLIT_FILES[k], pairs: s.to - s.from }]));
  log('members');
  const memberRewards = [];
  for (let k = 0; k < bank.members.length; k++) memberRewards.push(await bank.rewardsOf(bank.members.map((_, i) => (i === k ? 1 : 0))));
  const memberMetrics = memberRewards.map((r) => Object.fromEntries(Object.entries(bank.splits).map(([split, { from, to }]) => [split, pairMetrics(r, from, to)])));
  const members = bank.members.map((m, k) => ({ name: m.name, ...memberMetrics[k] }));
  // How alike the members are: the less they disagree, the less any averaging can change.
  const agreement = Object.fromEntries(Object.entries(bank.splits).map(([split, { from, to }]) => [split, unanimity(memberRewards, from, to)]));
  const interp = await interpolation(bank, memberRewards, memberMetrics, log);
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const curve = await mCurve(bank, memberRewards, memberMetrics, seeds, log);
  const end = { load_average_end: load(), minutes: (Date.now() - started) / 60000, scoring: bank.scoringStats() };
  write('interpolation.json', { ...context, ...end, splits, members, ...interp });
  write('m-curve.json', { ...context, ...end, splits, members, members_unanimous: agreement, ...curve });
}

const commands = {
  accuracy,
  cost: async () => write('cost.json', await measureCost({ seconds: Number(values.seconds), rounds: Number(values.rounds), command: command('cost', ['--seconds', values.seconds, '--rounds', values.rounds]), log })),
  render: async () => {},
};
const sub = positionals[0];
if (!commands[sub]) {
  process.stderr.write(`usage: node scripts/evidence/warm-evidence.mjs accuracy|cost|render [options] (see the header of this file)\n`);
  process.exit(2);
}
await commands[sub]();
render(OUT, join(ROOT, 'docs', 'WARM.md'), log);

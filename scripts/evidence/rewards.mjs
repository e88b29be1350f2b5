/**
 * The evidence's model bank: the reference members, the validation and OOD pairs, and the
 * rewards of any weight average of the members over those pairs. Each distinct average is
 * merged once (`warm-serve merge --weights`, into os.tmpdir()) and scored once through the
 * server's scoring service; rewards are cached on disk, so ENS of any subset and reruns cost
 * no forward pass.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readPairFiles } from '../../dist/eval/pair-files.js';
import { scorePairs } from '../../dist/eval/score-pairs.js';
import { createScoringService } from '../../dist/scoring/service.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const DATA = resolve(ROOT, '..', 'shared', 'data');
const SPLITS = join(ROOT, 'models', 'recipe', 'splits.json');
export const REFERENCE = join(ROOT, 'models', 'reference');
/** The split files, as the recipe README defines them. */
export const SPLIT_FILES = {
  validation: ['tldr/batch13.json', 'hh-rlhf/helpful-base/test.jsonl.gz'],
  ood: ['hh-rlhf/helpful-rejection-sampled/test.jsonl.gz'],
};
export const WORK = join(tmpdir(), 'warm-evidence');

/** Progress printer for scoring: a line every 10 s at most, and at the end. */
function progress(log, label) {
  let last = 0;
  return (done, total) => {
    if (done < total && Date.now() - last < 10_000) return;
    last = Date.now();
    log(`  ${label}: ${done}/${total} texts`);
  };
}

/** Open the bank: members (from models/reference/warm.json), pairs, and `rewardsOf(weights)`. */
export async function openBank(log) {
  const manifest = JSON.parse(readFileSync(join(REFERENCE, 'warm.json'), 'utf8'));
  const members = manifest.members.map((m) => ({ name: m.name, dir: resolve(REFERENCE, m.path) }));
  const splits = {};
  const pairs = [];
  for (const [name, files] of Object.entries(SPLIT_FILES)) {
    const set = await readPairFiles(files.map((f) => join(DATA, f)), `${SPLITS}:${name}`, (line) => log(`  ${line}`));
    splits[name] = { from: pairs.length, to: pairs.length + set.pairs.length, files };
    pairs.push(...set.pairs);
  }
  // Cached rewards are only valid for these members and these pairs.
  const hash = createHash('sha256');
  for (const m of members) hash.update(readFileSync(join(m.dir, 'model.onnx')));
  hash.update(JSON.stringify(splits));
  const cache = join(WORK, hash.digest('hex').slice(0, 16));
  mkdirSync(cache, { recursive: true });
  let scored = 0;
  /** Per distinct model used: how long its scoring took and when (from the cache when it was cached). */
  const used = new Map();

  /** Rewards {chosen, rejected} over all pairs of Σ w_i θ_i (weights normalised to sum 1). */
  async function rewardsOf(weights) {
    const sum = weights.reduce((a, b) => a + b, 0);
    const w = weights.map((x) => x / sum);
    const key = w.map((x) => x.toFixed(6)).join('_');
    const file = join(cache, `${key}.json`);
    if (existsSync(file)) {
      const { chosen, rejected, seconds, scored_at: at } = JSON.parse(readFileSync(file, 'utf8'));
      used.set(key, { seconds, at });
      return { chosen: Float64Array.from(chosen), rejected: Float64Array.from(rejected) };
    }
    const inputs = w.map((x, i) => [x, i]).filter(([x]) => x > 0);
    const label = inputs.map(([x, i]) => `${x.toFixed(2)}·${members[i].name}`).join(' + ');
    let dir;
    if (inputs.length === 1) dir = members[inputs[0][1]].dir;
    else {
      dir = join(cache, 'merges', key);
      execFileSync(process.execPath, [
        join(ROOT, 'dist', 'cli', 'main.js'), 'merge', '--format', 'onnx', '--quiet', '--force',
        '--weights', inputs.map(([x]) => String(x)).join(','), '--out', dir, ...inputs.map(([, i]) => members[i].dir),
      ], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    const started = Date.now();
    const service = await createScoringService(dir);
    let rewards;
    try {
      rewards = await scorePairs(service, pairs, progress(log, label));
    } finally {
      await service.drain(60_000);
    }
    scored += 1;
    const seconds = Math.round((Date.now() - started) / 1000);
    log(`  scored ${label} (${seconds} s; ${scored} model(s) scored this run)`);
    const at = new Date().toISOString();
    writeFileSync(file, JSON.stringify({ weights: w, seconds, scored_at: at, chosen: [...rewards.chosen], rejected: [...rewards.rejected] }));
    used.set(key, { seconds, at });
    return rewards;
  }

  /** Distinct models behind the results, how many this run scored, their total scoring time and when. */
  function scoringStats() {
    const all = [...used.values()];
    const dates = all.map((u) => u.at).filter(Boolean).sort();
    return { models: all.length, scored_this_run: scored, scoring_minutes: all.reduce((a, u) => a + (u.seconds ?? 0), 0) / 60, first_scored: dates[0], last_scored: dates.at(-1) };
  }

  return { members, splits, pairs, rewardsOf, scoringStats };
}

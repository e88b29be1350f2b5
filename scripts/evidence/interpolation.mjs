/**
 * Result 1, linear interpolation between two members: the weight interpolation
 * (1−λ)·θ1 + λ·θ2 (WA), the prediction interpolation (1−λ)·r1 + λ·r2 (ENS of the two) and the
 * straight line between the endpoints' metrics, for λ = 0, 0.1, ..., 1, per split.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensembleRewards, pairedComparison, pairMetrics } from './metrics.mjs';
import { REFERENCE } from './rewards.mjs';

export const LAMBDAS = Array.from({ length: 11 }, (_, k) => k / 10);

/** The two members with the best validation accuracy, and where their weight distance ranks among all pairs. */
function pickPair(bank, memberMetrics) {
  const byAccuracy = memberMetrics.map((m, i) => [m.validation.accuracy, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const [i, j] = [byAccuracy[0][1], byAccuracy[1][1]].sort((a, b) => a - b);
  // Pairwise L2 distances between members, as `warm-serve merge` recorded them for the reference merge.
  const distances = JSON.parse(readFileSync(join(REFERENCE, 'warm.json'), 'utf8')).merge.distances.onnx;
  const all = [];
  for (let a = 0; a < distances.length; a++) for (let b = a + 1; b < distances.length; b++) all.push(distances[a][b]);
  all.sort((x, y) => y - x);
  return { i, j, distance: distances[i][j], distance_rank: all.indexOf(distances[i][j]) + 1, pairs: all.length };
}

/** Run the interpolation; `memberRewards[k]` and `memberMetrics[k]` are member k's. */
export async function interpolation(bank, memberRewards, memberMetrics, log) {
  const pair = pickPair(bank, memberMetrics);
  const [a, b] = [bank.members[pair.i].name, bank.members[pair.j].name];
  log(`interpolation between ${a} and ${b} (the two best on validation; weight distance ${pair.distance}, rank ${pair.distance_rank} of ${pair.pairs})`);
  const points = [];
  for (const lambda of LAMBDAS) {
    const weights = bank.members.map((_, k) => (k === pair.i ? 1 - lambda : k === pair.j ? lambda : 0));
    log(`λ = ${lambda.toFixed(1)}`);
    const wa = await bank.rewardsOf(weights);
    const ens = ensembleRewards(memberRewards, weights);
    const point = { lambda };
    for (const [split, { from, to }] of Object.entries(bank.splits)) {
      const ends = [memberMetrics[pair.i][split], memberMetrics[pair.j][split]];
      const line = (key) => (1 - lambda) * ends[0][key] + lambda * ends[1][key];
      point[split] = {
        wa: pairMetrics(wa, from, to),
        ens: pairMetrics(ens, from, to),
        line: { accuracy: line('accuracy'), log_loss: line('log_loss'), margin: line('margin') },
        wa_vs_ens: pairedComparison(wa, ens, from, to),
      };
    }
    log(`  WA val ${(100 * point.validation.wa.accuracy).toFixed(2)} % / OOD ${(100 * point.ood.wa.accuracy).toFixed(2)} %; ENS val ${(100 * point.validation.ens.accuracy).toFixed(2)} % / OOD ${(100 * point.ood.ens.accuracy).toFixed(2)} %`);
    points.push(point);
  }
  return { members: [a, b], choice: 'the two members with the best validation accuracy', ...pair, points };
}

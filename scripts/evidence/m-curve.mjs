/**
 * Result 2, the M curve: accuracy of WARM (uniform weight average of the first M members) and
 * ENS (mean of their rewards) for M = 1..all, members added best-first by validation accuracy
 * and in seeded random orders.
 */
import { seededRandom } from '../seeded-random.mjs';
import { ensembleRewards, pairedComparison, pairMetrics, spread } from './metrics.mjs';

/** Fisher-Yates shuffle of 0..n-1 with the benchmark's seeded PRNG. */
function randomOrder(n, seed) {
  const random = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** WARM and ENS metrics for each prefix of `order`. */
async function curve(bank, memberRewards, order, log) {
  const steps = [];
  for (let m = 1; m <= order.length; m++) {
    const weights = bank.members.map((_, k) => (order.slice(0, m).includes(k) ? 1 / m : 0));
    const warm = await bank.rewardsOf(weights);
    const ens = ensembleRewards(memberRewards, weights);
    const step = { M: m, members: order.slice(0, m).map((k) => bank.members[k].name) };
    for (const [split, { from, to }] of Object.entries(bank.splits)) {
      step[split] = {
        warm: pairMetrics(warm, from, to),
        ens: pairMetrics(ens, from, to),
        warm_vs_ens: pairedComparison(warm, ens, from, to),
        // Against the order's first member alone (for best-first: the best member on validation).
        warm_vs_first: pairedComparison(warm, memberRewards[order[0]], from, to),
      };
    }
    log(`  M = ${m}: WARM val ${(100 * step.validation.warm.accuracy).toFixed(2)} % / OOD ${(100 * step.ood.warm.accuracy).toFixed(2)} %; ENS val ${(100 * step.validation.ens.accuracy).toFixed(2)} % / OOD ${(100 * step.ood.ens.accuracy).toFixed(2)} %`);
    steps.push(step);
  }
  return steps;
}

/** Run the M curve over best-first and `seeds` random orders. */
export async function mCurve(bank, memberRewards, memberMetrics, seeds, log) {
  const n = bank.members.length;
  const bestFirst = memberMetrics.map((m, i) => [m.validation.accuracy, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
  log(`M curve, best-first: ${bestFirst.map((k) => bank.members[k].name).join(', ')}`);
  const best = { order: bestFirst.map((k) => bank.members[k].name), steps: await curve(bank, memberRewards, bestFirst, log) };
  const random = [];
  for (const seed of seeds) {
    const order = randomOrder(n, seed);
    log(`M curve, random order (seed ${seed}): ${order.map((k) => bank.members[k].name).join(', ')}`);
    random.push({ seed, order: order.map((k) => bank.members[k].name), steps: await curve(bank, memberRewards, order, log) });
  }
  // Across seeds, per M: mean ± spread of each metric.
  const summary = Array.from({ length: n }, (_, k) => {
    const row = { M: k + 1 };
    for (const split of Object.keys(bank.splits)) {
      row[split] = {};
      for (const kind of ['warm', 'ens']) {
        row[split][kind] = {
          accuracy: spread(random.map((r) => r.steps[k][split][kind].accuracy)),
          log_loss: spread(random.map((r) => r.steps[k][split][kind].log_loss)),
        };
      }
    }
    return row;
  });
  // Over every distinct subset with M >= 2 (orders share subsets): which of WARM and ENS wins, per split.
  const subsets = new Map();
  for (const steps of [best.steps, ...random.map((r) => r.steps)]) {
    for (const st of steps) if (st.M > 1) subsets.set([...st.members].sort().join(','), st);
  }
  const wins = Object.fromEntries(Object.keys(bank.splits).map((split) => {
    const all = [...subsets.values()].map((st) => st[split]);
    return [split, {
      subsets: all.length,
      warm_lower_log_loss: all.filter((x) => x.warm.log_loss < x.ens.log_loss).length,
      warm_higher_accuracy: all.filter((x) => x.warm.accuracy > x.ens.accuracy).length,
      warm_lower_accuracy: all.filter((x) => x.warm.accuracy < x.ens.accuracy).length,
    }];
  }));
  return { best_first: best, random, random_summary: summary, seeds, warm_vs_ens_over_subsets: wins };
}

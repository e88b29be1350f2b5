/**
 * What one set of pair rewards is worth: pairwise accuracy (with its Wilson interval), the mean
 * Bradley-Terry log-loss −log σ(r_chosen − r_rejected) and the mean reward margin; and the
 * prediction ensemble (a weighted mean of members' rewards) those metrics are taken of.
 */
import { pairwiseAccuracy } from '../../dist/eval/accuracy.js';

/** log(1 + e^x) without overflow for large x. */
const softplus = (x) => (x > 30 ? x : Math.log1p(Math.exp(x)));

/** Accuracy, CI, log-loss and margin of rewards {chosen, rejected} restricted to pair indexes [from, to). */
export function pairMetrics({ chosen, rejected }, from = 0, to = chosen.length) {
  const c = chosen.subarray(from, to);
  const r = rejected.subarray(from, to);
  const acc = pairwiseAccuracy(c, r);
  let logLoss = 0;
  let margin = 0;
  for (let i = 0; i < c.length; i++) {
    const d = c[i] - r[i];
    logLoss += softplus(-d);
    margin += d;
  }
  return { n: acc.n, accuracy: acc.accuracy, ci95: acc.ci95, log_loss: logLoss / c.length, margin: margin / c.length };
}

/** ENS: Σ w_i · rewards_i over members (weights as given, normally summing to 1). */
export function ensembleRewards(memberRewards, weights) {
  const n = memberRewards[0].chosen.length;
  const chosen = new Float64Array(n);
  const rejected = new Float64Array(n);
  weights.forEach((w, k) => {
    if (w === 0) return;
    for (let i = 0; i < n; i++) {
      chosen[i] += w * memberRewards[k].chosen[i];
      rejected[i] += w * memberRewards[k].rejected[i];
    }
  });
  return { chosen, rejected };
}

/** Mean, sample standard deviation, minimum and maximum of numbers. */
export function spread(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** Two-sided exact binomial (sign) test p-value for k successes of n at p = 1/2. */
function signTest(k, n) {
  if (n === 0) return 1;
  let logC = 0;
  const probs = [];
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    probs.push(Math.exp(logC - n * Math.LN2));
  }
  const observed = probs[k];
  return Math.min(1, probs.filter((p) => p <= observed * (1 + 1e-9)).reduce((a, b) => a + b, 0));
}

/** Two-sided normal p-value of z (erfc by Abramowitz & Stegun 7.1.26, error < 1.5e-7). */
function normalP(z) {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.min(1, poly * Math.exp(-x * x));
}

/**
 * Paired comparison of two reward sets on the same pairs. Accuracy (McNemar's exact test): how
 * many pairs only `a` ranks right, how many only `b` does, and the p-value of that split. Log-loss:
 * the mean per-pair difference a − b, its standard error and a paired z-test p-value. On the same
 * pairs this is far tighter than comparing two separate confidence intervals.
 */
export function pairedComparison(a, b, from, to) {
  let aOnly = 0;
  let bOnly = 0;
  const d = [];
  for (let i = from; i < to; i++) {
    const ra = a.chosen[i] > a.rejected[i];
    const rb = b.chosen[i] > b.rejected[i];
    if (ra && !rb) aOnly++;
    else if (rb && !ra) bOnly++;
    d.push(softplus(a.rejected[i] - a.chosen[i]) - softplus(b.rejected[i] - b.chosen[i]));
  }
  const { mean, sd } = spread(d);
  const se = sd / Math.sqrt(d.length);
  return { a_only: aOnly, b_only: bOnly, p_mcnemar: signTest(aOnly, aOnly + bOnly), log_loss_diff: mean, log_loss_se: se, p_log_loss: se === 0 ? 1 : normalP(mean / se) };
}

/** Share of pairs in [from, to) that every reward set ranks the same way (all right or all wrong). */
export function unanimity(rewardSets, from, to) {
  let same = 0;
  for (let i = from; i < to; i++) {
    const right = rewardSets.filter((r) => r.chosen[i] > r.rejected[i]).length;
    if (right === 0 || right === rewardSets.length) same++;
  }
  return same / (to - from);
}

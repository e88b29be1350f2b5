/**
 * Reward aggregates over an ensemble (serve --ensemble): the merged model's own reward (warm),
 * or a statistic of the members' rewards for the same item. The uncertainty-weighted one is
 * Coste et al. (2023, "Reward Model Ensembles Help Mitigate Overoptimization"): mean − λ·variance.
 */

/** The aggregates a request can ask for. */
export const AGGREGATES = ['warm', 'mean', 'min', 'uwo'] as const;

/** One of AGGREGATES. */
export type Aggregate = (typeof AGGREGATES)[number];

/** λ of the uncertainty-weighted aggregate by default: Coste et al.'s best-of-N setting. */
export const DEFAULT_UWO_LAMBDA = 0.5;

/** Mean, minimum and population variance (divided by M, not M − 1) of one item's member rewards. */
export interface MemberStats {
  mean: number;
  min: number;
  variance: number;
}

/** Statistics of one item's member rewards (at least one), in float64. */
export function memberStats(rewards: ArrayLike<number>): MemberStats {
  const m = rewards.length;
  let sum = 0;
  let min = Infinity;
  for (let k = 0; k < m; k++) {
    sum += rewards[k];
    min = Math.min(min, rewards[k]);
  }
  const mean = sum / m;
  let squares = 0;
  for (let k = 0; k < m; k++) squares += (rewards[k] - mean) ** 2;
  return { mean, min, variance: squares / m };
}

/** The reward `aggregate` gives an item: its WARM reward, or a statistic of its members' rewards. */
export function aggregateReward(aggregate: Aggregate, warm: number, stats: MemberStats | undefined, uwoLambda: number): number {
  if (aggregate === 'warm') return warm;
  if (!stats) throw new Error(`aggregate '${aggregate}' needs member rewards`);
  if (aggregate === 'mean') return stats.mean;
  if (aggregate === 'min') return stats.min;
  return stats.mean - uwoLambda * stats.variance;
}

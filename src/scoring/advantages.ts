/**
 * GRPO's group-normalised rewards (advantages) over one group of completions of one prompt, as
 * TRL's GRPOTrainer computes them: (reward − group mean) / (group std + 1e-4), the std being the
 * sample standard deviation (divided by N − 1: torch.std's default, which TRL, verl's
 * compute_grpo_outcome_advantage and OpenRLHF's group_norm all call). A /v1/rank caller gets
 * them with the rewards instead of computing them again.
 */

/** The `normalize` values of /v1/rank: none, or group (adds advantages). */
export const NORMALIZATIONS = ['none', 'group'] as const;

/** TRL's epsilon in the denominator (verl uses 1e-6, OpenRLHF 1e-9: the difference is below a float32 reward's precision once std is not tiny). */
export const ADVANTAGE_EPSILON = 1e-4;

/**
 * (r − mean) / (std + ADVANTAGE_EPSILON) for every reward of one group, in float64. A group of
 * one has std 0 (torch.std gives NaN there; an advantage of 0 is what the lone sample carries).
 */
export function groupAdvantages(rewards: readonly number[]): number[] {
  const n = rewards.length;
  const mean = rewards.reduce((sum, r) => sum + r, 0) / n;
  const std = n > 1 ? Math.sqrt(rewards.reduce((sum, r) => sum + (r - mean) ** 2, 0) / (n - 1)) : 0;
  return rewards.map((r) => (r - mean) / (std + ADVANTAGE_EPSILON));
}

/**
 * Which members to average (`merge --select`), judged by held-out pairwise accuracy:
 *   uniform  all of them (the WARM default);
 *   top-k    the K most accurate (the WARM paper's "best M");
 *   greedy   the greedy soup (Wortsman et al. 2022): best first, add the next candidate when the
 *            average with it is at least as accurate as the average without it.
 * Scoring is injected (SelectionScorer) so this file holds only the rules.
 */
import type { Accuracy } from '../../eval/accuracy.js';
import { errors } from '../../errors.js';

/** The selection rules `--select` accepts. */
export const SELECT_METHODS = ['uniform', 'top-k', 'greedy'] as const;

/** One of SELECT_METHODS. */
export type SelectMethod = (typeof SELECT_METHODS)[number];

/** How a selection scores models on the held-out pairs. */
export interface SelectionScorer {
  /** Held-out accuracy of one candidate. */
  candidate(label: string): Promise<Accuracy>;
  /** Held-out accuracy of the uniform weight average of `labels` (greedy only). */
  average(labels: readonly string[]): Promise<Accuracy>;
}

/** One candidate and its held-out accuracy. */
export interface RankedCandidate {
  label: string;
  accuracy: Accuracy;
}

/** One greedy step: the running average with `label` added scored `accuracy`; kept when it did not drop. */
export interface GreedyStep {
  label: string;
  accuracy: Accuracy;
  kept: boolean;
}

/** What a selection decided and why. */
export interface Selection {
  method: SelectMethod;
  /** Every candidate, most accurate first (ties keep input order). */
  ranked: RankedCandidate[];
  /** The members to average: input order for uniform, most accurate first otherwise. */
  kept: string[];
  /** top-k: K. */
  k?: number;
  /** greedy: one step per candidate after the first. */
  steps?: GreedyStep[];
}

/** Rank the candidates and choose the members to average. */
export async function selectMembers(
  method: SelectMethod,
  labels: readonly string[],
  scorer: SelectionScorer,
  k?: number,
): Promise<Selection> {
  const ranked: RankedCandidate[] = [];
  for (const label of labels) ranked.push({ label, accuracy: await scorer.candidate(label) });
  // Array.prototype.sort is stable: equal accuracies keep input order.
  ranked.sort((a, b) => b.accuracy.accuracy - a.accuracy.accuracy);

  if (method === 'uniform') return { method, ranked, kept: [...labels] };
  if (method === 'top-k') {
    if (k === undefined || !Number.isInteger(k) || k < 1 || k > labels.length) {
      throw errors.validation('--k', `must be an integer from 1 to the number of inputs (${labels.length}); got ${k ?? 'none'}`);
    }
    return { method, ranked, k, kept: ranked.slice(0, k).map((c) => c.label) };
  }

  const kept = [ranked[0].label];
  let best = ranked[0].accuracy;
  const steps: GreedyStep[] = [];
  for (const candidate of ranked.slice(1)) {
    const accuracy = await scorer.average([...kept, candidate.label]);
    const keep = accuracy.accuracy >= best.accuracy;
    steps.push({ label: candidate.label, accuracy, kept: keep });
    if (keep) {
      kept.push(candidate.label);
      best = accuracy;
    }
  }
  return { method, ranked, kept, steps };
}

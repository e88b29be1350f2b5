/**
 * Rewards of preference pairs through a scoring service (the same formatting, tokenization,
 * batching and inference as the server), for `warm-serve eval` and `warm-serve merge --select`.
 */
import { scoreAll } from '../scoring/bulk.js';
import type { ScoringService } from '../scoring/types.js';
import type { PreferencePair } from './pairs.js';

/** The reward of each pair's chosen and rejected answer, in pair order. */
export interface PairRewards {
  chosen: Float64Array;
  rejected: Float64Array;
}

/** Score every chosen and rejected item of `pairs`; `onProgress` counts texts. */
export async function scorePairs(
  service: ScoringService,
  pairs: readonly PreferencePair[],
  onProgress?: (done: number, total: number) => void,
): Promise<PairRewards> {
  const items = pairs.flatMap((p) => [p.chosen, p.rejected]);
  const scored = await scoreAll(service, items, { onProgress });
  const chosen = new Float64Array(pairs.length);
  const rejected = new Float64Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    chosen[i] = scored[2 * i].reward;
    rejected[i] = scored[2 * i + 1].reward;
  }
  return { chosen, rejected };
}

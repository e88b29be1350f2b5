/**
 * The ensemble part of a /v1/score or /v1/rank response: per-item member rewards (as the
 * scoring service returns them) turned into one rewards array per member, plus the
 * per-item uncertainty. Empty when the request did not ask for members.
 */
import type { ModelInfo, ScoredItem } from '../scoring/types.js';

/** The `members` and `uncertainty` response fields, or nothing without return_members. */
export function memberOutput(
  info: ModelInfo,
  items: readonly ScoredItem[],
): { members?: { name: string; rewards: number[] }[]; uncertainty?: number[] } {
  const names = info.ensemble?.members;
  if (!names || items.length === 0 || items[0].members === undefined) return {};
  return {
    members: names.map((name, k) => ({ name, rewards: items.map((item) => item.members![k]) })),
    uncertainty: items.map((item) => item.uncertainty!),
  };
}

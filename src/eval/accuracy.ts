/** Pairwise accuracy with a 95% Wilson score interval. */

/** Accuracy over n pairs with its 95% confidence interval (Wilson score, z = 1.96). */
export interface Accuracy {
  n: number;
  correct: number;
  accuracy: number;
  ci95: [number, number];
}

const Z95 = 1.959963984540054;

/** Wilson score interval: well-behaved near 0 and 1 and for small n, unlike the normal approximation. */
export function wilson(correct: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 1];
  const p = correct / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** A pair counts as correct when reward(chosen) > reward(rejected), strictly: a tie is wrong. */
export function pairwiseAccuracy(chosen: ArrayLike<number>, rejected: ArrayLike<number>): Accuracy {
  if (chosen.length !== rejected.length) throw new Error('chosen and rejected reward counts differ');
  let correct = 0;
  for (let i = 0; i < chosen.length; i++) if (chosen[i] > rejected[i]) correct += 1;
  const n = chosen.length;
  return { n, correct, accuracy: n === 0 ? NaN : correct / n, ci95: wilson(correct, n) };
}

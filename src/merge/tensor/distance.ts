/**
 * Pairwise relative distances between the inputs' float weights, ||θi − θj|| / ||θi||, accumulated
 * chunk by chunk while averaging. Fine-tunes of one initialisation sit close together (usually
 * well under 0.1); independently initialised trainings are about √2 apart, and averaging them
 * gives a broken model, which is what the warning is for.
 */

/** Above this relative distance two inputs look like independent trainings rather than fine-tunes of one init. */
export const INDEPENDENT_TRAINING_THRESHOLD = 0.5;

/** Running sums of squared norms and squared pairwise differences over all float tensors. */
export class DistanceAccumulator {
  private readonly sqNorm: Float64Array;
  private readonly sqDiff: Float64Array;

  constructor(private readonly m: number) {
    this.sqNorm = new Float64Array(m);
    this.sqDiff = new Float64Array(m * m);
  }

  /** Adds the first `count` values of each input's chunk (`values[i]` belongs to input i). */
  add(values: readonly Float64Array[], count: number): void {
    const m = this.m;
    for (let i = 0; i < m; i++) {
      const a = values[i];
      let s = 0;
      for (let k = 0; k < count; k++) s += a[k] * a[k];
      this.sqNorm[i] += s;
      for (let j = i + 1; j < m; j++) {
        const b = values[j];
        let d = 0;
        for (let k = 0; k < count; k++) {
          const x = a[k] - b[k];
          d += x * x;
        }
        this.sqDiff[i * m + j] += d;
      }
    }
  }

  /** Matrix r[i][j] = ||θi − θj|| / ||θi|| (0 on the diagonal; NaN when ||θi|| is 0). */
  relative(): number[][] {
    const m = this.m;
    return Array.from({ length: m }, (_, i) =>
      Array.from({ length: m }, (_, j) => {
        if (i === j) return 0;
        const diff = Math.sqrt(this.sqDiff[Math.min(i, j) * m + Math.max(i, j)]);
        return diff / Math.sqrt(this.sqNorm[i]);
      }),
    );
  }
}

/** Human-readable warnings for pairs further apart than the threshold, or identical. */
export function distanceWarnings(labels: readonly string[], relative: readonly number[][]): string[] {
  const warnings: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      const r = Math.max(relative[i][j], relative[j][i]);
      if (r > INDEPENDENT_TRAINING_THRESHOLD) {
        warnings.push(
          `${labels[i]} and ${labels[j]} are ${r.toFixed(3)} apart (relative L2), over ${INDEPENDENT_TRAINING_THRESHOLD}: ` +
            'they look like independent trainings, not fine-tunes of one initialisation; their average is likely a poor model',
        );
      } else if (r === 0) {
        warnings.push(`${labels[i]} and ${labels[j]} have identical float weights`);
      } else if (Number.isNaN(r)) {
        warnings.push(`${labels[i]} or ${labels[j]} has all-zero or non-finite float weights; distance undefined`);
      }
    }
  }
  return warnings;
}

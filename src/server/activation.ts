/** The activation TEI and vLLM put on a single-logit classifier's output (unless raw scores are asked for). */

/** Logistic sigmoid, 1 / (1 + e^-x): a reward logit becomes a probability-like score in (0, 1). */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

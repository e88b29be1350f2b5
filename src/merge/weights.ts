/** The averaging weights: uniform (WARM) by default, or user weights normalised by their sum. */
import { errors } from '../errors.js';

/** Weights as given (`raw`, summing to `total`) and normalised (`normalized`, summing to 1). */
export interface MergeWeights {
  method: 'uniform' | 'weighted';
  raw: number[];
  total: number;
  normalized: number[];
}

/** Parses `--weights w1,w2,...` for `m` inputs; undefined means uniform. */
export function parseWeights(text: string | undefined, m: number): MergeWeights {
  if (text === undefined) {
    const raw = new Array<number>(m).fill(1);
    return { method: 'uniform', raw, total: m, normalized: raw.map(() => 1 / m) };
  }
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== m) {
    throw errors.validation('--weights', `got ${parts.length} weights for ${m} inputs; give one weight per input, in input order`);
  }
  const raw = parts.map((p, i) => {
    const w = p === '' ? NaN : Number(p);
    if (!Number.isFinite(w)) throw errors.validation('--weights', `weight ${i + 1} '${p}' is not a finite number`);
    if (w < 0) throw errors.validation('--weights', `weight ${i + 1} is ${w}; weights must be >= 0`);
    return w;
  });
  const total = raw.reduce((a, b) => a + b, 0);
  if (!(total > 0) || !Number.isFinite(total)) {
    throw errors.validation('--weights', `weights sum to ${total}; at least one weight must be > 0`);
  }
  return { method: 'weighted', raw, total, normalized: raw.map((w) => w / total) };
}

/** Checks that M inputs hold the same tensors (names, dtypes, shapes) and none is quantized. */
import { errors } from '../../errors.js';
import type { DType } from './dtype.js';
import { quantizedTensorProblem } from './quantization.js';

/** What is compared across inputs for one tensor. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** Throws a merge error naming the input and tensor at the first difference from the first input. */
export function compareTensorLists(labels: readonly string[], lists: readonly (readonly TensorInfo[])[]): void {
  lists.forEach((list, i) => {
    for (const t of list) {
      const problem = quantizedTensorProblem(t.name, t.dtype, t.shape);
      if (problem) throw errors.merge(labels[i], t.name, problem);
    }
  });
  const reference = new Map(lists[0].map((t) => [t.name, t]));
  for (let i = 1; i < lists.length; i++) {
    const names = new Set<string>();
    for (const t of lists[i]) {
      names.add(t.name);
      const r = reference.get(t.name);
      if (!r) throw errors.merge(labels[i], t.name, `tensor is not in the first input (${labels[0]}); the models differ in architecture`);
      if (r.dtype !== t.dtype) throw errors.merge(labels[i], t.name, `dtype ${t.dtype} differs from the first input's ${r.dtype}`);
      if (r.shape.length !== t.shape.length || r.shape.some((d, k) => d !== t.shape[k])) {
        throw errors.merge(labels[i], t.name, `shape [${t.shape.join(', ')}] differs from the first input's [${r.shape.join(', ')}]`);
      }
    }
    for (const name of reference.keys()) {
      if (!names.has(name)) throw errors.merge(labels[i], name, `tensor is missing (present in the first input, ${labels[0]})`);
    }
  }
}

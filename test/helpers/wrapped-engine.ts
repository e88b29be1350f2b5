/** The real ONNX engine behind a test hook, for injecting failures through the service's `createEngine` option. */
import type { Engine, RunOptions } from '../../src/model/engine.js';
import type { ModelDirectory } from '../../src/model/directory.js';
import type { ModelTokenizer } from '../../src/model/tokenizer.js';
import { createOnnxEngine } from '../../src/scoring/service.js';

/** What a test does with each batch: call `real` (or not) and return or throw as it likes. */
export type BatchHook = (real: Engine, sequences: readonly Int32Array[], options?: RunOptions) => Promise<Float32Array>;

/** A `createEngine` whose batches go through `hook`; `ready` also gets the tokenizer (e.g. to encode a marker text). */
export function wrappedEngine(hook: BatchHook, ready?: (tokenizer: ModelTokenizer) => Promise<void>) {
  return async (dir: ModelDirectory, tokenizer: ModelTokenizer): Promise<Engine> => {
    const real = await createOnnxEngine(dir, tokenizer);
    await ready?.(tokenizer);
    return {
      inputs: real.inputs,
      executionProvider: real.executionProvider,
      release: () => real.release(),
      run: (sequences, options) => hook(real, sequences, options),
    };
  };
}

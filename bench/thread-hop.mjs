/**
 * What the worker thread costs one forward pass: the same batch-1, 128-token pass run directly
 * on this thread (onnxruntime-node's run(), which blocks the event loop) and through OnnxEngine
 * (session on a worker thread, src/model/session-thread.ts), interleaved, median of 400 each.
 *
 *   node bench/thread-hop.mjs [MODEL_DIR]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { OnnxEngine } from '../dist/model/onnx-engine.js';
import { padBatch } from '../dist/model/padded-batch.js';

const file = join(process.argv[2] ?? join(import.meta.dirname, '.work', 'tiny'), 'model.onnx');
// The server's session settings (src/model/onnx-engine.ts).
const main = await ort.InferenceSession.create(file, {
  intraOpNumThreads: 0, interOpNumThreads: 0, graphOptimizationLevel: 'all', executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const layout = { padTokenId: 0, paddingSide: 'right' };
const engine = await OnnxEngine.create(file, layout, {});
const ids = Int32Array.from({ length: 128 }, (_, i) => 3 + ((i * 7) % 500));
const padded = padBatch([ids], layout, new Set(engine.inputs));
const feeds = Object.fromEntries(engine.inputs.map((name) => [name, new ort.Tensor('int64', name === 'input_ids' ? padded.ids : padded.mask, [1, 128])]));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const direct = [];
const worker = [];
for (let i = 0; i < 420; i++) {
  let t = performance.now();
  await main.run(feeds);
  if (i >= 20) direct.push(performance.now() - t);
  t = performance.now();
  await engine.runPadded(padded);
  if (i >= 20) worker.push(performance.now() - t);
}
await engine.release();
await main.release();
console.log(`forward pass, batch 1 x 128 tokens, median of ${direct.length}: main thread ${median(direct).toFixed(3)} ms, worker thread ${median(worker).toFixed(3)} ms (+${(median(worker) - median(direct)).toFixed(3)} ms)`);

// The engine's forward pass runs on a worker thread: the event loop keeps turning while a large
// batch computes, results match the same batch scored item by item, and release() lets the
// process exit.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { loadModelDirectory } from '../src/model/directory.js';
import { OnnxEngine } from '../src/model/onnx-engine.js';
import { ModelTokenizer } from '../src/model/tokenizer.js';
import { checkTiming } from './helpers/timing.js';

t.test('a forward pass does not block the event loop', async (t) => {
  const dir = await loadModelDirectory('models/reference');
  const tokenizer = await ModelTokenizer.load(dir);
  const engine = await OnnxEngine.create(dir.modelFile, { padTokenId: tokenizer.padId, paddingSide: dir.paddingSide }, { intraOpThreads: 1 });
  t.teardown(() => engine.release());
  const [full] = await tokenizer.encode(['Once upon a time there was a little girl named Lily. '.repeat(20)]);
  t.equal(full.ids.length, dir.maxLength, 'a full-length item');
  const batch = Array.from({ length: 128 }, () => full.ids);

  // Largest gap between 1 ms timer ticks while one 128 x 128 batch computes (hundreds of ms).
  let last = performance.now();
  let worstGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 1);
  const start = performance.now();
  const rewards = await engine.run(batch);
  const elapsed = performance.now() - start;
  clearInterval(ticker);

  const gaps = `timer ticks kept coming: worst gap ${worstGap.toFixed(1)} ms during a ${elapsed.toFixed(0)} ms pass`;
  if (elapsed <= 50) t.pass(gaps, { skip: 'the batch took under 50 ms, too short to show blocking on this CPU' });
  else await checkTiming(t, worstGap < elapsed / 2, `${gaps} (< half the pass)`);
  const [single] = await engine.run([full.ids]);
  t.ok(rewards.every((r) => Math.abs(r - single) < 1e-4), 'every copy of the item gets the single-item reward');
});

t.test('a released engine refuses further runs with an engine error', async (t) => {
  const dir = await loadModelDirectory('models/reference');
  const tokenizer = await ModelTokenizer.load(dir);
  const engine = await OnnxEngine.create(dir.modelFile, { padTokenId: tokenizer.padId, paddingSide: dir.paddingSide });
  const [item] = await tokenizer.encode(['hello']);
  await engine.run([item.ids]);
  await engine.release();
  await t.rejects(engine.run([item.ids]), { name: 'WarmServeError', message: /inference failed: .*worker thread exited/ });
});

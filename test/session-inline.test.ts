// A short pass on an idle session runs on the calling thread (no worker hop) and gives the
// worker's result; passes that overlap another, follow one back to back, or are estimated
// long go to the worker. The thresholds are settings (inline_max_ms, inline_min_idle_ms,
// inline_max_model_mib) that reach the session.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadServeConfig } from '../src/config/load.js';
import { loadModelDirectory } from '../src/model/directory.js';
import { DEFAULT_INLINE_POLICY, type InlinePolicy } from '../src/model/inline-policy.js';
import { padBatch } from '../src/model/padded-batch.js';
import { ThreadSession } from '../src/model/session-thread.js';
import { ModelTokenizer } from '../src/model/tokenizer.js';
import { startServer } from '../src/server/start.js';
import { testConfig } from './helpers/http-call.js';

const OPTIONS = { intraOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' } as const;

async function setup(t: Tap.Test, policy?: InlinePolicy) {
  const dir = await loadModelDirectory('models/reference');
  const tokenizer = await ModelTokenizer.load(dir);
  const session = await ThreadSession.open(dir.modelFile, 'cpu', OPTIONS, policy);
  t.teardown(() => session.release());
  // A short item: its pass stays far below the 5 ms inline limit even on a loaded machine.
  const [short] = await tokenizer.encode(['Once upon a time there was a little girl named Lily.']);
  const [long] = await tokenizer.encode(['Once upon a time there was a little girl named Lily. '.repeat(20)]);
  const feedsOf = (rows: number) => {
    const ids = rows === 1 ? short.ids : long.ids;
    const p = padBatch(Array.from({ length: rows }, () => ids), { padTokenId: tokenizer.padId, paddingSide: 'right' }, new Set(['input_ids', 'attention_mask']));
    return { feeds: { input_ids: p.ids, attention_mask: p.mask }, dims: [p.batch, p.seq] };
  };
  const run = (rows: number) => {
    const { feeds, dims } = feedsOf(rows);
    return session.run(feeds, dims, 'logits');
  };
  return { session, run };
}

t.test('an idle single-item pass runs inline, with the worker result', async (t) => {
  const { session, run } = await setup(t);
  const first = await run(1);
  t.equal(session.inlinePasses, 0, 'the first pass (no cost estimate yet) goes to the worker');
  await sleep(20); // idle; this pass opens the inline session and still goes to the worker
  await run(1);
  let inline = first;
  for (let i = 0; i < 20 && session.inlinePasses === 0; i++) {
    await sleep(20);
    inline = await run(1);
  }
  t.equal(session.inlinePasses, 1, 'a later idle pass ran inline');
  t.same(inline.dims, first.dims);
  t.ok(Math.abs(inline.data[0] - first.data[0]) < 1e-5, `same logits inline (${inline.data[0]}) and on the worker (${first.data[0]})`);
});

t.test('overlapping, back-to-back and long passes go to the worker', async (t) => {
  const { session, run } = await setup(t);
  await run(1);
  await sleep(20);
  await run(1); // opens the inline session
  await sleep(50);
  const before = session.inlinePasses;
  // Two at once: the first may run inline, the second overlaps it.
  await Promise.all([run(1), run(1)]);
  t.ok(session.inlinePasses - before <= 1, 'at most one of two overlapping passes ran inline');
  const afterPair = session.inlinePasses;
  for (let i = 0; i < 10; i++) await run(1); // each starts right as the previous one ends
  // Not 0: on a loaded machine the thread can be descheduled between two passes.
  t.ok(session.inlinePasses - afterPair <= 3, `back-to-back passes stay on the worker (${session.inlinePasses - afterPair} of 10 inline)`);
  await sleep(20);
  const beforeLong = session.inlinePasses;
  await run(64); // 64 x 128 tokens: far beyond 5 ms (tens of ms)
  t.equal(session.inlinePasses, beforeLong, 'a long batch went to the worker though the session was idle');
});

t.test('the policy decides: no inline pass with maxMs 0, before minIdleMs of idleness, or for a model over maxModelBytes', async (t) => {
  const policies: [string, InlinePolicy][] = [
    ['maxMs 0', { ...DEFAULT_INLINE_POLICY, maxMs: 0 }],
    ['minIdleMs 60 s', { ...DEFAULT_INLINE_POLICY, minIdleMs: 60_000 }],
    ['maxModelBytes 1 MiB (the model is larger)', { ...DEFAULT_INLINE_POLICY, maxModelBytes: 2 ** 20 }],
  ];
  for (const [name, policy] of policies) {
    const { session, run } = await setup(t, policy);
    // As in the first test, where the default policy runs one of these inline within 20 tries.
    for (let i = 0; i < 20; i++) {
      await run(1);
      await sleep(20);
    }
    t.equal(session.inlinePasses, 0, `${name}: every pass on the worker`);
  }
});

t.test('the settings reach the session: flags and env, through the server to ThreadSession.open', async (t) => {
  const request = loadServeConfig(['--inline-max-ms', '2.5', '--inline-max-model-mib', '8'], { WARM_SERVE_INLINE_MIN_IDLE_MS: '1' });
  if (request.help) throw new Error('unexpected help');
  const { inline_max_ms, inline_min_idle_ms, inline_max_model_mib } = request.config;
  t.same({ inline_max_ms, inline_min_idle_ms, inline_max_model_mib }, { inline_max_ms: 2.5, inline_min_idle_ms: 1, inline_max_model_mib: 8 });
  const defaults = testConfig();
  t.same([defaults.inline_max_ms, defaults.inline_min_idle_ms, defaults.inline_max_model_mib * 2 ** 20],
    [DEFAULT_INLINE_POLICY.maxMs, DEFAULT_INLINE_POLICY.minIdleMs, DEFAULT_INLINE_POLICY.maxModelBytes], 'defaults from inline-policy.ts');

  const open = ThreadSession.open;
  const seen: (InlinePolicy | undefined)[] = [];
  ThreadSession.open = (file, device, options, policy) => {
    seen.push(policy);
    return open.call(ThreadSession, file, device, options, policy);
  };
  t.teardown(() => {
    ThreadSession.open = open;
  });
  const server = await startServer(testConfig({ inline_max_ms: 2.5, inline_min_idle_ms: 1, inline_max_model_mib: 8 }));
  await server.stop();
  t.same(seen, [{ maxMs: 2.5, minIdleMs: 1, maxModelBytes: 8 * 2 ** 20 }], 'the server opened its session with the configured policy');
});

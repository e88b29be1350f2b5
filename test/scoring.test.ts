import t from 'tap';
import fc from 'fast-check';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createScoringService, type LoadedScoringService } from '../src/scoring/service.js';
import { scoreAll } from '../src/scoring/bulk.js';
import type { ScoreInput } from '../src/scoring/types.js';
import { ModelTokenizer } from '../src/model/tokenizer.js';
import { editJson, referenceCopy } from './helpers/reference-copy.js';
import { rejection } from './helpers/rejection.js';

const REFERENCE = new URL('../models/reference/', import.meta.url).pathname;
const GRAPHS = new URL('./fixtures/graphs/', import.meta.url).pathname;

type Test = Parameters<Parameters<typeof t.test>[1]>[0];

/** A scratch copy of the reference model with its manifest merged with `manifest`. */
async function referenceWith(t: Test, manifest: Record<string, unknown>): Promise<string> {
  const dir = await referenceCopy(t, { members: true });
  await editJson(join(dir, 'warm.json'), (current) => Object.assign(current, manifest));
  return dir;
}

async function service(t: Test, dir: string, batching: Record<string, number> = {}): Promise<LoadedScoringService> {
  const s = await createScoringService(dir, { batching: { max_queue_delay_ms: 0, ...batching }, engine: { intraOpThreads: 1 } });
  t.teardown(() => s.drain(1000));
  return s;
}

const WORDS = 'once upon a time there was little girl named Lily she loved to play outside in the park with her dog Max one day they found big red ball and were very happy'.split(' ');

/** Seeded random items of very different lengths, some longer than max_length. */
function randomItems(seed: number, count: number): ScoreInput[] {
  const words = (min: number, max: number) => fc.array(fc.constantFrom(...WORDS), { minLength: min, maxLength: max, size: 'max' }).map((w) => w.join(' '));
  const item = fc.oneof(
    words(1, 150).map((text) => ({ text })),
    fc.tuple(words(0, 80), words(1, 40)).map(([prompt, completion]) => ({ prompt, completion: ` ${completion}` })),
  );
  return fc.sample(item, { seed, numRuns: count });
}

t.test('scores every input kind, in request order, with timings', async (t) => {
  const s = await service(t, REFERENCE);
  await s.warmup();
  const items: ScoreInput[] = [
    { prompt: 'Once upon a time', completion: ' there was a cat.' },
    { text: 'Once upon a time there was a cat.' },
    { messages: [{ role: 'user', content: 'Tell me a story.' }, { role: 'assistant', content: 'Once upon a time there was a cat.' }] },
    { text: 'a dog' },
  ];
  const result = await s.score(items);
  t.equal(result.items.length, 4);
  t.equal(result.items[0].reward, result.items[1].reward, 'template "{prompt}{completion}" equals the concatenated text');
  for (const item of result.items) t.ok(Number.isFinite(item.reward) && item.truncated === false);
  const alone = await Promise.all(items.map((i) => s.score([i])));
  alone.forEach((r, i) => t.ok(Math.abs(r.items[0].reward - result.items[i].reward) <= 1e-5, `item ${i} in order`));
  const tok = await ModelTokenizer.load(s.directory);
  const [a] = await tok.encode(['a dog']);
  t.equal(result.items[3].tokens, a.ids.length, 'tokens = ids fed to the model');
  const { tokenize_ms, queue_ms, inference_ms } = result.timings;
  t.ok(tokenize_ms >= 0 && queue_ms >= 0 && inference_ms > 0);
  t.same(s.info.inputs, ['input_ids', 'attention_mask']);
  t.equal(s.info.max_length, s.directory.maxLength);
});

t.test('truncation flags, and truncate:false refuses long items with 422', async (t) => {
  const s = await service(t, await referenceWith(t, { max_length: 24 }));
  const long = { text: WORDS.join(' ') };
  const result = await s.score([{ text: 'short' }, long]);
  t.same(result.items.map((i) => i.truncated), [false, true]);
  t.equal(result.items[1].tokens, 24);
  const tok = await ModelTokenizer.load(s.directory);
  const [full] = await tok.encode([long.text]);
  const err = await rejection(s.score([{ text: 'short' }, long], { truncate: false }));
  t.equal(err.status, 422);
  t.equal(err.message, `items[1]: ${full.fullLength} tokens (special tokens included) exceed max_length 24; shorten the item or allow truncation (truncate: true)`);
  t.equal((await s.score([{ text: 'short' }], { truncate: false })).items[0].truncated, false);
});

t.test('a long prompt is cut from the left: the completion decides the reward', async (t) => {
  const s = await service(t, await referenceWith(t, { max_length: 32 }));
  const completion = ' and they all lived happily ever after with the big red ball';
  const a = await s.score([{ prompt: 'the dog '.repeat(40), completion }]);
  const b = await s.score([{ prompt: 'a girl '.repeat(40) + 'the dog '.repeat(10), completion }]);
  t.ok(a.items[0].truncated && b.items[0].truncated);
  t.ok(Math.abs(a.items[0].reward - b.items[0].reward) <= 1e-5, 'prompts differing only in their dropped start score the same');
});

for (const side of ['right', 'left'] as const) {
  t.test(`batch invariance: batched rewards equal one-at-a-time rewards (${side} padding)`, async (t) => {
    const dir = await referenceWith(t, { padding_side: side });
    const batched = await service(t, dir, { max_batch_size: 64, max_padding_ratio: 1 });
    const single = await service(t, dir, { max_batch_size: 1 });
    t.equal(batched.info.padding_side, side);
    for (const seed of [1, 2, 3]) {
      const items = randomItems(seed, 48);
      // One big request plus concurrent small ones, so batches mix lengths and requests.
      const [whole, ...parts] = await Promise.all([
        batched.score(items),
        ...items.map((item) => batched.score([item])),
      ]);
      const lengths = whole.items.map((i) => i.tokens);
      t.ok(Math.max(...lengths) - Math.min(...lengths) > 50, `seed ${seed}: lengths ${Math.min(...lengths)}..${Math.max(...lengths)}`);
      let worst = 0;
      for (let i = 0; i < items.length; i++) {
        const alone = (await single.score([items[i]])).items[0].reward;
        worst = Math.max(worst, Math.abs(alone - whole.items[i].reward), Math.abs(alone - parts[i].items[0].reward));
      }
      t.ok(worst <= 1e-5, `seed ${seed}: max |batched - alone| = ${worst.toExponential(2)}`);
    }
  });
}

t.test('aborted requests are refused as client_closed', async (t) => {
  const s = await service(t, REFERENCE);
  const c = new AbortController();
  c.abort();
  t.equal((await rejection(s.score([{ text: 'x' }], { signal: c.signal }))).type, 'client_closed');
});

t.test('bulk scoring matches per-request scoring and reports progress', async (t) => {
  const s = await service(t, REFERENCE);
  const items = randomItems(9, 100);
  const progress: number[] = [];
  const bulk = await scoreAll(s, items, { chunkSize: 16, concurrency: 3, onProgress: (done, total) => { t.equal(total, 100); progress.push(done); } });
  t.equal(bulk.length, 100);
  t.equal(progress[progress.length - 1], 100);
  t.same(progress, [...progress].sort((a, b) => a - b), 'progress only grows');
  for (const i of [0, 37, 99]) {
    const alone = (await s.score([items[i]])).items[0];
    t.ok(Math.abs(alone.reward - bulk[i].reward) <= 1e-5, `item ${i} in place`);
  }
});

t.test('drain finishes queued work, then refuses new work', async (t) => {
  const s = await createScoringService(REFERENCE, { batching: { max_batch_size: 2 } });
  const inflight = s.score(randomItems(4, 20));
  const drained = s.drain(5000);
  t.equal((await rejection(s.score([{ text: 'late' }]))).type, 'draining');
  t.equal((await inflight).items.length, 20, 'queued items were scored');
  await drained;
  t.equal((await rejection(s.score([{ text: 'later' }]))).status, 503);
});

t.test('bad settings and a failing model are reported', async (t) => {
  await t.rejects(createScoringService(REFERENCE, { batching: { max_batch_tokens: 16 } }), {
    // A setting that does not fit the model: a config error (exit 2 from serve), naming the setting.
    type: 'config_error',
    name: 'ConfigError',
    message: /^max_batch_tokens: 16 is below the model's max_length/,
  });
  const dir = await referenceWith(t, {});
  await copyFile(join(GRAPHS, 'nonfinite.onnx'), join(dir, 'model.onnx'));
  const s = await service(t, dir);
  const err = await rejection(s.score([{ text: 'x' }]));
  t.equal(err.type, 'engine_error');
  t.match(err.message, /non-finite reward/);
  t.equal((await rejection(s.score([{ text: 'y' }]))).type, 'engine_error', 'the service still answers after a failed batch');
});

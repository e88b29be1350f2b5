/**
 * Prefix sharing is exact: with it on (and the prefix and reward caches), every reward equals
 * the reward of the same item run whole, within 1e-4, on the shipped reference graph (which
 * takes past_key_values). Engine level, with fast-check groups of token ids: one-token
 * suffixes, an item that is all prefix, identical items, items that share nothing, both
 * padding sides, several batches in a row (cache hits, evictions). Service level: every
 * preference items of ../shared/data grouped by prompt (a fixed sample), at the shipped max_length
 * and at 512 (where prompts are shared more than cut), and an ensemble's members (return_members).
 */
import fc from 'fast-check';
import { join } from 'node:path';
import t from 'tap';
import { OnnxEngine } from '../src/model/onnx-engine.js';
import { ScoringService } from '../src/scoring/service.js';
import type { ScoreInput } from '../src/scoring/types.js';
import { readPairFiles } from '../src/eval/pair-files.js';
import { editJson, REFERENCE, referenceCopy } from './helpers/reference-copy.js';
import { SHARED_DATA, testWithSharedData } from './helpers/shared-data.js';

const TOLERANCE = 1e-4;
const MODEL = join(REFERENCE, 'model.onnx');

function maxDiff(a: Float32Array | number[], b: Float32Array | number[]): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

t.test('the reference graph takes a past, and sharing is exact on fast-check groups', async (t) => {
  for (const paddingSide of ['right', 'left'] as const) {
    const layout = { padTokenId: 0, paddingSide };
    const plain = await OnnxEngine.create(MODEL, layout, { inline: { maxMs: 0, minIdleMs: 0, maxModelBytes: 0 } });
    // A small cache (~6 prompts of 64 tokens) so that runs evict as well as hit.
    const shared = await OnnxEngine.create(MODEL, layout, { prefixSharing: { minTokens: 3, cacheBytes: 6 * 64 * 1280 } });
    t.teardown(() => Promise.all([plain.release(), shared.release()]));
    t.ok(plain.takesPast, 'model.onnx takes past_key_values');

    const token = fc.integer({ min: 3, max: 511 });
    const group = fc.record({
      prompt: fc.array(token, { minLength: 0, maxLength: 64 }),
      completions: fc.array(fc.array(token, { minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
    });
    let worst = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(group, { minLength: 1, maxLength: 4 }), fc.boolean(), async (groups, repeat) => {
        const sequences: Int32Array[] = [];
        for (const { prompt, completions } of groups) {
          for (const completion of completions) sequences.push(Int32Array.from([1, ...prompt, ...completion, 2]));
          if (repeat) sequences.push(sequences[sequences.length - 1].slice()); // an identical item
        }
        const expected = await plain.run(sequences);
        // All at once (sharing inside the batch), then in two batches and again whole (the
        // later batches find earlier prefixes in the cache).
        const half = Math.ceil(sequences.length / 2);
        const split = [...(await shared.run(sequences.slice(0, half))), ...(await shared.run(sequences.slice(half)))];
        const diff = Math.max(maxDiff(await shared.run(sequences), expected), maxDiff(split, expected), maxDiff(await shared.run(sequences), expected));
        worst = Math.max(worst, diff);
        return diff <= TOLERANCE;
      }),
      { numRuns: 20, seed: 15 },
    );
    const stats = shared.prefixStats()!;
    t.ok(stats.tokensReused > 0 && stats.hits > 0 && stats.evictions > 0, `${paddingSide} padding: shared (${stats.tokensReused} tokens reused, ${stats.hits} cache hits, ${stats.evictions} evictions); worst |diff| ${worst.toExponential(1)} <= ${TOLERANCE}`);
  }
});

/** Rewards of `groups` (one request per group, all at once), from a service on `model` with or without sharing. */
async function scoreGroups(model: string, groups: ScoreInput[][], sharing: boolean, perItem = false): Promise<{ rewards: number[][]; service: ScoringService }> {
  const service = await ScoringService.create(model, {
    engine: { prefixSharing: sharing ? { minTokens: 16, cacheBytes: 64 * 2 ** 20 } : undefined },
    rewardCacheItems: sharing ? 4096 : 0,
    batching: { max_batch_size: 64, max_batch_tokens: 8192, max_queue_items: 1e6, max_queue_tokens: 1e9, queue_timeout_ms: 600_000 },
  });
  try {
    // Per item: every completion its own request, the groups interleaved (as per-sample trainers send them).
    const rewards = perItem
      ? await Promise.all(groups.map((items) => Promise.all(items.map(async (item) => (await service.score([item])).items[0].reward))))
      : await Promise.all(groups.map(async (items) => (await service.score(items)).items.map((i) => i.reward)));
    return { rewards, service };
  } finally {
    await service.drain(60_000);
  }
}

/**
 * The groups of every `every`-th prompt (in file order). All 16,956 items at max_length 128 take
 * ~85 s per configuration on 2 cores (measured with every = 1: worst |diff| 3.6e-7), so the suite
 * scores a fixed sample: 1 prompt in 64 at 128 and 1 in 256 at 512 (4x the tokens per item).
 */
const SAMPLE_EVERY: Record<number, number> = { 128: 64, 512: 256 };

testWithSharedData('preference items of ../shared/data, grouped by prompt: shared = whole within 1e-4', async (t) => {
  const files = ['tldr/batch13.json', 'hh-rlhf/harmless-base/test.jsonl.gz', 'hh-rlhf/helpful-base/test.jsonl.gz', 'hh-rlhf/helpful-rejection-sampled/test.jsonl.gz'];
  const { pairs } = await readPairFiles(files.map((f) => join(SHARED_DATA, f)));
  const byPrompt = new Map<string, ScoreInput[]>();
  for (const { chosen, rejected } of pairs) {
    for (const item of [chosen, rejected]) {
      const key = 'prompt' in item ? item.prompt : JSON.stringify(item);
      byPrompt.set(key, [...(byPrompt.get(key) ?? []), item]);
    }
  }
  for (const [maxLength, every] of Object.entries(SAMPLE_EVERY)) {
    const groups = [...byPrompt.values()].filter((_, i) => i % every === 0);
    const items = groups.reduce((n, g) => n + g.length, 0);
    const model = await referenceCopy(t, { name: `rm-${maxLength}` });
    await editJson(join(model, 'warm.json'), (w) => (w.max_length = Number(maxLength)));
    const whole = await scoreGroups(model, groups, false);
    for (const perItem of [false, true]) {
      const shared = await scoreGroups(model, groups, true, perItem);
      const worst = maxDiff(shared.rewards.flat(), whole.rewards.flat());
      const { prefix, reward } = shared.service.cacheStats();
      t.ok(worst <= TOLERANCE, `max_length ${maxLength}, ${perItem ? 'one request per item' : 'one request per prompt'}: ${items} items in ${groups.length} groups (1 prompt in ${every}), worst |diff| ${worst.toExponential(1)}; ${prefix!.tokensReused} prefix tokens reused, ${prefix!.hits} prefix-cache hits, ${reward!.hits} reward-cache hits`);
      t.ok(prefix!.tokensReused > 0, 'prefixes were shared');
    }
  }
});

t.test('ensemble members share prefixes exactly too (return_members)', async (t) => {
  // Two of the six members: the path is the same for each, and every session is a worker to start.
  const model = await referenceCopy(t, { members: true });
  await editJson(join(model, 'warm.json'), (w) => (w.members = w.members.slice(0, 2)));
  const prompt = 'SUBREDDIT: r/test\nTITLE: a shared prompt\nPOST: the same long post that every completion of the group follows.\n\nTL;DR:';
  const items = ['a', ' a short one', ' another completion', ' a', ' and a longer completion than the others'].map((c) => ({ prompt, completion: c }));
  const results = [];
  for (const sharing of [false, true]) {
    const service = await ScoringService.create(model, { ensemble: true, engine: { prefixSharing: sharing ? { minTokens: 8, cacheBytes: 2 ** 20 } : undefined } });
    results.push((await service.score(items, { returnMembers: true })).items);
    results.push((await service.score(items.slice(0, 2), { returnMembers: true })).items); // a second batch: from the cache
    await service.drain(10_000);
  }
  const flat = (r: (typeof results)[0]) => r.flatMap((i) => [i.reward, ...(i.members ?? [])]);
  t.equal(flat(results[0]).length, 5 * 3, 'the model and 2 members per item');
  t.ok(maxDiff(flat(results[2]), flat(results[0])) <= TOLERANCE, 'one batch');
  t.ok(maxDiff(flat(results[3]), flat(results[1])) <= TOLERANCE, 'the next batch');
});

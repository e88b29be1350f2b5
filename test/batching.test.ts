import t from 'tap';
import fc from 'fast-check';
import { BatchQueue } from '../src/batching/queue.js';
import type { BatchFormed, BatchObserver } from '../src/batching/observer.js';
import type { Engine } from '../src/model/engine.js';
import { rejection } from './helpers/rejection.js';
import { checkTiming } from './helpers/timing.js';

/** A sequence whose reward the fake engine can recompute: first id and length identify it. */
function seq(id: number, length: number): Int32Array {
  const ids = new Int32Array(length);
  ids.fill(id);
  return ids;
}
const expectedReward = (ids: Int32Array) => ids[0] * 1000 + ids.length;

/**
 * A fake engine: reward = id * 1000 + length, records every batch, and can be held (gate) so
 * tests control when a forward pass finishes.
 */
class FakeEngine implements Engine {
  readonly inputs = ['input_ids'];
  readonly executionProvider = 'fake';
  batches: Int32Array[][] = [];
  running = 0;
  maxRunning = 0;
  held = false;
  failWhen: (ids: Int32Array) => boolean = () => false;
  private releases: (() => void)[] = [];

  async run(sequences: readonly Int32Array[]): Promise<Float32Array> {
    this.batches.push([...sequences]);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.held) await new Promise<void>((r) => this.releases.push(r));
      else await new Promise((r) => setTimeout(r, 1));
      if (sequences.some(this.failWhen)) throw new Error('poisoned batch');
      return Float32Array.from(sequences, expectedReward);
    } finally {
      this.running--;
    }
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  hold(): void {
    this.held = true;
  }
  /** Let every held forward pass finish (and stop holding new ones). */
  letGo(): void {
    this.held = false;
    const r = this.releases;
    this.releases = [];
    r.forEach((f) => f());
  }
  get seen(): Int32Array[] {
    return this.batches.flat();
  }
}

/** Records what the observer receives. */
function recorder() {
  const log = { batches: [] as BatchFormed[], rejected: {} as Record<string, number>, abandoned: 0, waits: 0, inference: 0 };
  const observer: BatchObserver = {
    batchFormed: (b) => log.batches.push(b),
    rejected: (reason, n) => (log.rejected[reason] = (log.rejected[reason] ?? 0) + n),
    abandoned: (n) => (log.abandoned += n),
    queueWait: () => log.waits++,
    inference: () => log.inference++,
  };
  return { log, observer };
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('rewards come back in request order, across batches', async (t) => {
  const engine = new FakeEngine();
  const queue = new BatchQueue(engine, { max_batch_size: 3, max_queue_delay_ms: 0 });
  const sequences = [seq(1, 50), seq(2, 3), seq(3, 20), seq(4, 7), seq(5, 49), seq(6, 2), seq(7, 8)];
  const result = await queue.submit(sequences);
  t.same([...result.rewards], sequences.map(expectedReward));
  t.ok(engine.batches.length >= 3, 'max_batch_size 3 forces several batches');
  t.ok(result.inferenceMs > 0 && result.queueMs >= 0);
});

t.test('concurrent single-item callers are batched together', async (t) => {
  const engine = new FakeEngine();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0 });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => queue.submit([seq(i, 10)])));
  results.forEach((r, i) => t.equal(r.rewards[0], i * 1000 + 10));
  t.equal(engine.batches.length, 1, 'callers in one event-loop turn share a forward pass');
});

t.test('batches respect max_batch_size and max_batch_tokens (padded)', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const { log, observer } = recorder();
  const queue = new BatchQueue(engine, { max_batch_size: 4, max_batch_tokens: 100, max_queue_delay_ms: 0, max_padding_ratio: 1 }, observer);
  const first = queue.submit([seq(0, 5)]);
  await tick(); // the first batch is running; the rest accumulate
  const lengths = [30, 30, 30, 30, 30, 10, 10, 10, 10, 10, 10, 10, 60];
  const rest = queue.submit(lengths.map((l, i) => seq(i + 1, l)));
  engine.letGo();
  await first;
  const result = await rest;
  t.same([...result.rewards], lengths.map((l, i) => (i + 1) * 1000 + l));
  for (const b of log.batches) {
    t.ok(b.size <= 4, `batch size ${b.size} <= 4`);
    t.ok(b.paddedTokens <= 100, `padded tokens ${b.paddedTokens} <= 100`);
  }
  const big = engine.batches.find((b) => b.some((s) => s.length === 60))!;
  t.equal(big.length, 1, 'a 60-token item cannot share a 100-token budget with anything >= 40 tokens... or pad another');
});

t.test('items are grouped by length to limit padding', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const { log, observer } = recorder();
  const queue = new BatchQueue(engine, { max_batch_size: 4, max_queue_delay_ms: 0, max_padding_ratio: 1 }, observer);
  const first = queue.submit([seq(0, 5)]);
  await tick();
  // Interleaved short and long items: FIFO batching would pad every batch to ~200.
  const lengths = [200, 10, 201, 11, 202, 12, 203, 13];
  const rest = queue.submit(lengths.map((l, i) => seq(i + 1, l)));
  engine.letGo();
  await Promise.all([first, rest]);
  const later = engine.batches.slice(1).map((b) => b.map((s) => s.length).sort((a, b) => a - b));
  t.same(later, [[200, 201, 202, 203], [10, 11, 12, 13]], 'the oldest item anchors; companions are nearest in length');
  t.ok(log.batches.slice(1).every((b) => b.paddingRatio < 0.15));
});

t.test('max_padding_ratio splits batches of very different lengths', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0, max_padding_ratio: 0.3 });
  const first = queue.submit([seq(0, 5)]);
  await tick();
  const rest = queue.submit([seq(1, 400), seq(2, 20), seq(3, 380)]);
  engine.letGo();
  await Promise.all([first, rest]);
  const later = engine.batches.slice(1).map((b) => b.map((s) => s.length).sort((a, b) => a - b));
  t.same(later, [[380, 400], [20]]);
});

t.test('max_queue_delay_ms waits for companions; 0 dispatches at once', async (t) => {
  const engine = new FakeEngine();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 80 });
  const start = performance.now();
  const a = queue.submit([seq(1, 5)]);
  await sleep(20);
  const b = queue.submit([seq(2, 5)]);
  await Promise.all([a, b]);
  t.equal(engine.batches.length, 1, 'the second caller joined the first batch');
  t.ok(performance.now() - start >= 75, 'a lone item waited for the delay');

  const eager = new FakeEngine();
  const queue0 = new BatchQueue(eager, { max_queue_delay_ms: 0 });
  const c = queue0.submit([seq(1, 5)]);
  await sleep(20);
  const d = queue0.submit([seq(2, 5)]);
  await Promise.all([c, d]);
  t.equal(eager.batches.length, 2, 'without a delay the first item did not wait');
});

t.test('a full batch does not wait for the delay', async (t) => {
  const engine = new FakeEngine();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 1000, max_batch_size: 4 });
  const start = performance.now();
  await queue.submit([seq(1, 5), seq(2, 5), seq(3, 5), seq(4, 5)]);
  const ms = performance.now() - start;
  await checkTiming(t, ms < 500, `answered in ${ms.toFixed(0)} ms (< 500; the delay is 1000)`);
});

t.test('bounded queue: overload is a 503 with Retry-After, by items and by tokens', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const { log, observer } = recorder();
  const queue = new BatchQueue(engine, { max_queue_items: 5, max_queue_tokens: 100, max_queue_delay_ms: 0, max_batch_size: 1 }, observer);
  const running = queue.submit([seq(0, 10)]);
  await tick();
  const queued = queue.submit([seq(1, 10), seq(2, 10), seq(3, 10), seq(4, 10)]);
  const byItems = await rejection(queue.submit([seq(5, 1), seq(6, 1)]));
  t.equal(byItems.status, 503);
  t.equal(byItems.type, 'overloaded');
  t.match(byItems.message, /max_queue_items=5/);
  t.ok(byItems.retryAfterSeconds! >= 1);
  const byTokens = await rejection(queue.submit([seq(7, 61)]));
  t.equal(byTokens.type, 'overloaded');
  t.match(byTokens.message, /max_queue_tokens=100/);
  const tooBig = await rejection(queue.submit(Array.from({ length: 6 }, (_, i) => seq(i, 1))));
  t.equal(tooBig.status, 413, 'a request larger than the whole queue can never fit: 413, not 503');
  t.same(log.rejected, { queue_items: 2, queue_tokens: 1, too_large: 6 });
  // Before tokenizing, by the item count alone: the same refusal, counted the same way.
  const early = queue.refuseEarly(2);
  t.equal(early?.type, 'overloaded', 'refuseEarly: the queue is full by items');
  t.match(early?.message, /max_queue_items=5/);
  t.ok(early!.retryAfterSeconds! >= 1);
  t.equal(queue.refuseEarly(1), undefined, 'one more item still fits: left to submit()');
  t.equal(queue.refuseEarly(6), undefined, 'a request larger than the queue: left to submit() (413)');
  t.same(log.rejected, { queue_items: 4, queue_tokens: 1, too_large: 6 });
  engine.letGo();
  await Promise.all([running, queued]);
  t.same(queue.stats, { queuedItems: 0, queuedTokens: 0, inflightBatches: 0, heldEntries: 0 });
  t.equal(queue.refuseEarly(5), undefined, 'refuseEarly: nothing queued, nothing refused');
  const fine = await queue.submit([seq(9, 1)]);
  t.equal(fine.rewards[0], 9001, 'the queue accepts again once it drained');
});

t.test('queue timeout fails items still queued, not those computing', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const { log, observer } = recorder();
  const queue = new BatchQueue(engine, { queue_timeout_ms: 40, max_queue_delay_ms: 0, max_batch_size: 1 }, observer);
  const computing = queue.submit([seq(1, 5)]);
  await tick();
  const waiting = queue.submit([seq(2, 5)]);
  const err = await rejection(waiting);
  t.equal(err.type, 'queue_timeout');
  t.equal(err.status, 503);
  t.match(err.message, /over the 40 ms queue timeout/);
  t.equal(log.rejected.queue_timeout, 1);
  engine.letGo();
  t.equal((await computing).rewards[0], 1005, 'the item already in a forward pass finished');
  t.equal(engine.seen.length, 1, 'the timed-out item was never computed');
});

t.test('aborted items are dropped at batch formation, never computed, and counted', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const { log, observer } = recorder();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0 }, observer);
  const first = queue.submit([seq(1, 5)]);
  await tick();
  const controllers = Array.from({ length: 3 }, () => new AbortController());
  const abandoned = controllers.map((c, i) => queue.submit([seq(10 + i, 5), seq(20 + i, 5)], c.signal));
  const kept = queue.submit([seq(2, 5)]);
  controllers.forEach((c) => c.abort());
  for (const p of abandoned) t.equal((await rejection(p)).type, 'client_closed');
  t.equal(queue.stats.queuedItems, 1, 'abandoned items no longer count as queued');
  engine.letGo();
  await first;
  t.equal((await kept).rewards[0], 2005);
  t.same(engine.seen.map((s) => s[0]).sort(), [1, 2], 'only live items reached the engine');
  t.equal(log.abandoned, 6);
  const pre = new AbortController();
  pre.abort();
  t.equal((await rejection(queue.submit([seq(3, 5)], pre.signal))).type, 'client_closed');
});

t.test('memory does not grow while clients abandon a stuck queue', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const { log, observer } = recorder();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0, max_batch_size: 1 }, observer);
  const first = queue.submit([seq(1, 5)]);
  await tick();
  let maxHeld = 0;
  for (let i = 0; i < 5000; i++) {
    const c = new AbortController();
    queue.submit([seq(2, 5)], c.signal).catch(() => undefined);
    c.abort();
    maxHeld = Math.max(maxHeld, queue.stats.heldEntries);
  }
  t.ok(maxHeld <= 200, `held entries stayed bounded (max ${maxHeld})`);
  engine.letGo();
  await first;
  await queue.whenIdle();
  t.equal(log.abandoned, 5000);
  t.equal(engine.seen.length, 1);
});

t.test('an engine failure fails only its batch; the queue keeps going', async (t) => {
  const engine = new FakeEngine();
  engine.failWhen = (ids) => ids[0] === 666;
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0, max_batch_size: 2 });
  engine.hold();
  const first = queue.submit([seq(1, 5)]);
  await tick();
  // Lengths keep the poisoned pair together and apart from the healthy pair.
  const poisoned = queue.submit([seq(666, 100), seq(3, 100)]);
  const healthy = queue.submit([seq(4, 10), seq(5, 10)]);
  engine.letGo();
  const err = await rejection(poisoned);
  t.equal(err.type, 'engine_error');
  t.equal(err.status, 500);
  t.match(err.message, /poisoned batch/);
  t.same([...(await healthy).rewards], [4010, 5010]);
  await first;
  t.equal((await queue.submit([seq(6, 5)])).rewards[0], 6005, 'later requests still succeed');
});

t.test('a wrong reward count from the engine is an engine error', async (t) => {
  const engine: Engine = {
    inputs: [],
    executionProvider: 'fake',
    run: async () => new Float32Array(0),
    release: async () => undefined,
  };
  const err = await rejection(new BatchQueue(engine).submit([seq(1, 3)]));
  t.equal(err.type, 'engine_error');
  t.match(err.message, /returned 0 rewards for a batch of 1/);
});

t.test('pipelining: at most max_inflight_batches forward passes at once', async (t) => {
  for (const inflight of [1, 2]) {
    const engine = new FakeEngine();
    engine.hold();
    const queue = new BatchQueue(engine, { max_queue_delay_ms: 0, max_batch_size: 1, max_inflight_batches: inflight });
    const all = Promise.all(Array.from({ length: 6 }, (_, i) => queue.submit([seq(i, 4)])));
    await sleep(10);
    t.equal(engine.running, inflight, `${inflight} batch(es) running while the rest wait`);
    t.equal(queue.stats.inflightBatches, inflight);
    engine.letGo();
    await all;
    t.equal(engine.maxRunning, inflight);
  }
});

t.test('drain refuses new work, finishes queued work', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0, max_batch_size: 1 });
  const a = queue.submit([seq(1, 3)]);
  await tick();
  const b = queue.submit([seq(2, 3)]);
  const drained = queue.drain(5000);
  t.equal((await rejection(queue.submit([seq(3, 3)]))).type, 'draining');
  engine.letGo();
  await drained;
  t.equal((await a).rewards[0], 1003);
  t.equal((await b).rewards[0], 2003);
});

t.test('drain past its timeout fails what is still queued', async (t) => {
  const engine = new FakeEngine();
  engine.hold();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0, max_batch_size: 1 });
  const a = queue.submit([seq(1, 3)]);
  await tick();
  const b = queue.submit([seq(2, 3)]);
  const drained = queue.drain(30);
  t.equal((await rejection(b)).type, 'draining');
  engine.letGo();
  await drained;
  t.equal((await a).rewards[0], 1003, 'the running batch finished');
});

t.test('property: every item gets its own reward and every batch respects the limits', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 64, max: 300 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 1, max: 3 }),
      async (requests, maxBatchSize, maxBatchTokens, maxPaddingRatio, inflight) => {
        const engine = new FakeEngine();
        const { log, observer } = recorder();
        const queue = new BatchQueue(engine, {
          max_batch_size: maxBatchSize, max_batch_tokens: maxBatchTokens, max_padding_ratio: maxPaddingRatio,
          max_inflight_batches: inflight, max_queue_delay_ms: 0,
        }, observer);
        let id = 0;
        const submitted = requests.map((lengths) => lengths.map((l) => seq(++id, l)));
        const results = await Promise.all(submitted.map((s) => queue.submit(s)));
        results.forEach((r, i) => t.same([...r.rewards], submitted[i].map(expectedReward)));
        const total = submitted.flat().length;
        if (engine.seen.length !== total) throw new Error('each item computed exactly once');
        for (const b of log.batches) {
          if (b.size > maxBatchSize || b.paddedTokens > maxBatchTokens) throw new Error(`batch over limits: ${JSON.stringify(b)}`);
        }
        if (log.waits !== total) throw new Error('one queue wait per item');
      },
    ),
    { numRuns: 60, seed: 42 },
  );
});

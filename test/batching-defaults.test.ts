// The batcher's defaults: a lone request goes to the engine at once instead of waiting for
// companions (max_queue_delay_ms 0), and requests arriving while a batch computes share the next.
import t from 'tap';
import { BatchQueue } from '../src/batching/queue.js';
import type { Engine } from '../src/model/engine.js';

/** An engine that records each batch's size and finishes its batches when told to. */
class HeldEngine implements Engine {
  readonly inputs = ['input_ids'];
  readonly executionProvider = 'held';
  batches: number[] = [];
  private pending: (() => void)[] = [];

  run(sequences: readonly Int32Array[]): Promise<Float32Array> {
    this.batches.push(sequences.length);
    return new Promise((resolve) => this.pending.push(() => resolve(new Float32Array(sequences.length))));
  }
  finishAll(): void {
    const waiting = this.pending;
    this.pending = [];
    for (const finish of waiting) finish();
  }
  async release(): Promise<void> {}
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const item = (id: number) => Int32Array.of(1, id, 2);

t.test('defaults: a lone item is dispatched in the next event-loop turn; later arrivals batch together', async (t) => {
  const engine = new HeldEngine();
  const queue = new BatchQueue(engine);
  t.equal(queue.options.max_queue_delay_ms, 0);
  const first = queue.submit([item(10)]);
  await turn();
  t.same(engine.batches, [1], 'the first item did not wait for companions');

  const later = [queue.submit([item(11)]), queue.submit([item(12)]), queue.submit([item(13)])];
  await turn();
  t.same(engine.batches, [1], 'nothing else starts while the batch computes (max_inflight_batches 1)');
  engine.finishAll();
  await first;
  await turn();
  t.same(engine.batches, [1, 3], 'the items that arrived meanwhile form one batch');
  engine.finishAll();
  await Promise.all(later);
});

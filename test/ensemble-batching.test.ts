/**
 * The batching queue with an ensemble engine: member rewards come back per request and per
 * item, members run only for batches that carry an item asking for them, and a batch mixing
 * both kinds of request is computed once. A fake engine stands in for onnxruntime so the
 * batches it sees can be checked exactly.
 */
import t from 'tap';
import { BatchQueue } from '../src/batching/queue.js';
import type { Engine, RunOptions } from '../src/model/engine.js';

const seq = (id: number, length: number) => new Int32Array(length).fill(id);
/** Model reward and member k's reward of a sequence, recomputable by the test. */
const modelReward = (ids: Int32Array) => ids[0] * 10 + ids.length;
const memberReward = (ids: Int32Array, k: number) => modelReward(ids) + 100 * (k + 1);

/** An ensemble of two fake members; records each batch and whether members ran on it. */
class FakeEnsemble implements Engine {
  readonly inputs = ['input_ids'];
  readonly executionProvider = 'fake';
  readonly members = ['a', 'b'];
  calls: { size: number; members: boolean }[] = [];
  wrongLength = false;

  async run(sequences: readonly Int32Array[], options: RunOptions = {}): Promise<Float32Array> {
    this.calls.push({ size: sequences.length, members: options.members === true });
    await new Promise((r) => setTimeout(r, 1));
    const n = sequences.length;
    const blocks = options.members ? 1 + this.members.length : 1;
    const out = new Float32Array(n * blocks - (this.wrongLength ? 1 : 0));
    sequences.forEach((ids, i) => {
      out[i] = modelReward(ids);
      if (options.members) this.members.forEach((_, k) => (out[(k + 1) * n + i] = memberReward(ids, k)));
    });
    return out;
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
}

t.test('requests without members: members never run and no member arrays come back', async (t) => {
  const engine = new FakeEnsemble();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 5 });
  const result = await queue.submit([seq(1, 3), seq(2, 4)]);
  t.same([...result.rewards], [13, 24]);
  t.equal(result.members, undefined);
  t.ok(engine.calls.every((c) => !c.members), 'members skipped');
});

t.test('a batch mixing both kinds runs once with members; each request gets what it asked for', async (t) => {
  const engine = new FakeEnsemble();
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 20 });
  const plainItems = [seq(1, 3), seq(2, 3)];
  const memberItems = [seq(3, 3), seq(4, 3), seq(5, 3)];
  const [plain, withMembers] = await Promise.all([queue.submit(plainItems), queue.submit(memberItems, undefined, true)]);
  t.same(engine.calls, [{ size: 5, members: true }], 'one forward pass for both requests');
  t.same([...plain.rewards], plainItems.map(modelReward));
  t.equal(plain.members, undefined);
  t.same([...withMembers.rewards], memberItems.map(modelReward));
  t.same(withMembers.members!.map((m) => [...m]), [0, 1].map((k) => memberItems.map((ids) => memberReward(ids, k))), 'member k, item i, in request order');
});

t.test('an engine answering with the wrong number of outputs fails the batch with engine_error', async (t) => {
  const engine = new FakeEnsemble();
  engine.wrongLength = true;
  const queue = new BatchQueue(engine, { max_queue_delay_ms: 0 });
  await t.rejects(queue.submit([seq(1, 3), seq(2, 3)], undefined, true), { type: 'engine_error', message: /2 items x 3 outputs/ });
});

/**
 * Running a batch, like text-embeddings-inference's infer.rs beside its queue.rs: the forward
 * pass on the engine, the check of what the engine returned, and the answers written back into
 * the requests the batch's items came from. The queue (queue.ts) forms the batches and owns the
 * requests' bookkeeping. Plain TypeScript over the Engine interface: no I/O of its own.
 */
import { performance } from 'node:perf_hooks';
import { errors, WarmServeError } from '../errors.js';
import type { Engine } from '../model/engine.js';
import type { BatchObserver } from './observer.js';
import type { PendingRequest, QueuedItem } from './queue.js';

/** A batch as it leaves the queue. */
export interface Batch {
  readonly items: readonly QueuedItem[];
  /** When it left the queue (performance.now()): its forward pass is timed from here. */
  readonly startedAt: number;
  /** Its items' tokens without padding. */
  readonly realTokens: number;
}

/** What the runner tells the queue. */
export interface RunnerEvents {
  /** Answer a request (no `err`) or fail it; the queue settles each request once. */
  settle(request: PendingRequest, err?: Error): void;
  /** A batch is answered: its place in flight is free. */
  finished(): void;
}

/** Weight of the newest batch in the throughput estimate behind Retry-After. */
const THROUGHPUT_SMOOTHING = 0.2;

/** Runs the queue's batches on one engine and answers their items. */
export class BatchRunner {
  private smoothedTokensPerMs = 0;

  constructor(
    private readonly engine: Engine,
    private readonly observer: BatchObserver,
    private readonly events: RunnerEvents,
  ) {}

  /** Real tokens per ms over recent batches; 0 until the first batch finishes. */
  get tokensPerMs(): number {
    return this.smoothedTokensPerMs;
  }

  /** One forward pass over `batch`, then each of its items answered (or failed with the batch). */
  async run(batch: Batch): Promise<void> {
    const { items } = batch;
    // Members (and heads) run for the whole batch when any of its items wants them (one padded batch for all).
    const withMembers = items.some((item) => item.request.members !== undefined);
    const withHeads = items.some((item) => item.request.heads !== undefined);
    const outputs = 1 + (withMembers ? (this.engine.members?.length ?? 0) : 0);
    let rewards: Float32Array | undefined;
    let failure: WarmServeError | undefined;
    try {
      rewards = await this.engine.run(items.map((item) => item.ids), { members: withMembers, heads: withHeads });
      checkRewards(rewards, items.length, outputs, withHeads);
    } catch (err) {
      failure = err instanceof WarmServeError ? err : errors.engine(err instanceof Error ? err.message : String(err), err);
    }
    const ms = performance.now() - batch.startedAt;
    this.observer.inference?.(ms, items.length, failure === undefined);
    if (!failure && ms > 0) {
      const rate = batch.realTokens / ms;
      this.smoothedTokensPerMs = this.smoothedTokensPerMs === 0 ? rate : this.smoothedTokensPerMs + THROUGHPUT_SMOOTHING * (rate - this.smoothedTokensPerMs);
    }
    this.answer(items, ms, outputs, failure ?? rewards!);
    this.events.finished();
  }

  /**
   * Write each item's rewards (and heads) into its request and settle the requests now complete,
   * or fail every request the batch carried. Requests already settled (timed out, client gone)
   * are skipped. `outputs`: rewards per item before the heads (the model's, then each member's).
   */
  private answer(items: readonly QueuedItem[], ms: number, outputs: number, outcome: Float32Array | WarmServeError): void {
    const n = items.length;
    const charged = new Set<PendingRequest>();
    const headsAt = n * outputs;
    const heads = outcome instanceof WarmServeError ? 0 : (outcome.length - headsAt) / n;
    items.forEach((item, k) => {
      const request = item.request;
      if (request.settled) return;
      if (!charged.has(request)) {
        charged.add(request);
        request.inferenceMs += ms;
      }
      if (outcome instanceof WarmServeError) return this.events.settle(request, outcome);
      request.rewards[item.index] = outcome[k];
      request.members?.forEach((member, m) => (member[item.index] = outcome[(m + 1) * n + k]));
      if (request.heads) request.heads[item.index] = outcome.slice(headsAt + k * heads, headsAt + (k + 1) * heads);
      if (--request.remaining === 0) this.events.settle(request);
    });
  }
}

/** Whatever the engine, a batch yields one finite reward per item and output (then at least one finite head per item when asked); anything else fails it. */
function checkRewards(rewards: Float32Array, n: number, outputs: number, withHeads: boolean): void {
  const heads = (rewards.length - n * outputs) / n;
  if (withHeads ? !(Number.isInteger(heads) && heads >= 1) : heads !== 0) {
    throw errors.engine(`engine returned ${rewards.length} rewards for a batch of ${n} items x ${outputs} outputs${withHeads ? ' and their heads' : ''}`);
  }
  const bad = rewards.findIndex((r) => !Number.isFinite(r));
  if (bad >= 0) throw errors.engine(`the model produced a non-finite ${bad < n * outputs ? 'reward' : 'head value'} (${rewards[bad]}) for batch item ${bad < n * outputs ? bad % n : Math.floor((bad - n * outputs) / heads)}`);
}

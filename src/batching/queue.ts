/**
 * The shared batching queue, like text-embeddings-inference's queue.rs: every client's items
 * wait here (the state), admission is bounded by items and tokens and a refusal is an answer
 * (503 + Retry-After), never unbounded memory; batches are formed here (when: max_queue_delay_ms
 * and max_inflight_batches; which items: select.ts) and handed to the runner (runner.ts), which
 * runs them on the engine and answers their items. Plain TypeScript: no I/O of its own.
 */
import { performance } from 'node:perf_hooks';
import { errors, WarmServeError } from '../errors.js';
import type { Engine } from '../model/engine.js';
import type { BatchObserver, RejectionReason } from './observer.js';
import { resolveBatchingOptions, type BatchingOptions } from './options.js';
import { BatchRunner } from './runner.js';
import { selectBatch } from './select.js';

/** What one submitted request gets back. */
export interface QueueResult {
  /** One reward per submitted sequence, in submission order. */
  rewards: Float32Array;
  /** Ensemble engines, when the request asked for them: one array per member, like `rewards`. */
  members?: Float32Array[];
  /** When the request asked for them: each sequence's head values (the model's output row), in submission order. */
  heads?: Float32Array[];
  /** Longest time one of its items waited before its batch started, ms. */
  queueMs: number;
  /** Summed durations of the forward passes that carried its items, ms. */
  inferenceMs: number;
}

/** Queue depth and activity, for health checks and tests. */
export interface QueueStats {
  queuedItems: number;
  queuedTokens: number;
  inflightBatches: number;
  /** Queue entries held in memory, live or awaiting removal (bounded: dead ones are compacted). */
  heldEntries: number;
}

/** One submit() call in flight. Its items are dead once it is settled. */
export interface PendingRequest {
  readonly rewards: Float32Array;
  /** Set when the request wants the ensemble members' rewards too. */
  readonly members?: Float32Array[];
  /** Set when the request wants each item's head values; filled per item by the runner. */
  readonly heads?: Float32Array[];
  readonly enqueuedAt: number;
  remaining: number;
  queuedItems: number;
  queuedTokens: number;
  queueMs: number;
  inferenceMs: number;
  settled: boolean;
  abandoned: boolean;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  resolve(result: QueueResult): void;
  reject(err: Error): void;
}

/** One sequence waiting for a batch. */
export interface QueuedItem {
  readonly length: number;
  readonly ids: Int32Array;
  readonly request: PendingRequest;
  readonly index: number;
}

const MAX_RETRY_AFTER_S = 60;

/** The dynamic batcher: one instance shared by all clients of one engine. */
export class BatchQueue {
  readonly options: BatchingOptions;
  private pending: QueuedItem[] = [];
  /** Items of settled requests still sitting in `pending`, removed lazily. */
  private deadInPending = 0;
  private queuedItems = 0;
  private queuedTokens = 0;
  private inflight = 0;
  private closed = false;
  private pumpScheduled = false;
  private delayTimer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];
  private readonly runner: BatchRunner;

  constructor(
    private readonly engine: Engine,
    options: Partial<BatchingOptions> = {},
    private readonly observer: BatchObserver = {},
  ) {
    this.options = resolveBatchingOptions(options);
    this.runner = new BatchRunner(engine, observer, {
      settle: (request, err) => this.settle(request, err),
      finished: () => this.batchFinished(),
    });
  }

  /** Current depth and activity. */
  get stats(): QueueStats {
    return {
      queuedItems: this.queuedItems,
      queuedTokens: this.queuedTokens,
      inflightBatches: this.inflight,
      heldEntries: this.pending.length,
    };
  }

  /**
   * Queue sequences for scoring. All of a request's items are admitted or none is. Rejects with
   * a WarmServeError: draining, payload_too_large, overloaded, queue_timeout, client_closed
   * (signal fired while queued) or engine_error (a batch carrying one of its items failed).
   * `withMembers`: an ensemble engine also runs its members on the batches carrying these items;
   * `withHeads`: the engine also returns each item's head values.
   */
  submit(sequences: readonly Int32Array[], signal?: AbortSignal, withMembers = false, withHeads = false): Promise<QueueResult> {
    const refusal = this.admissionError(sequences, signal);
    if (refusal) return Promise.reject(refusal);
    const memberCount = withMembers ? (this.engine.members?.length ?? 0) : 0;
    const members = memberCount > 0 ? Array.from({ length: memberCount }, () => new Float32Array(sequences.length)) : undefined;
    const heads = withHeads ? new Array<Float32Array>(sequences.length) : undefined;
    if (sequences.length === 0) return Promise.resolve({ rewards: new Float32Array(0), members, heads, queueMs: 0, inferenceMs: 0 });

    return new Promise<QueueResult>((resolve, reject) => {
      let tokens = 0;
      for (const s of sequences) tokens += s.length;
      const request: PendingRequest = {
        rewards: new Float32Array(sequences.length),
        members,
        heads,
        enqueuedAt: performance.now(),
        remaining: sequences.length,
        queuedItems: sequences.length,
        queuedTokens: tokens,
        queueMs: 0,
        inferenceMs: 0,
        settled: false,
        abandoned: false,
        resolve,
        reject,
      };
      sequences.forEach((ids, index) => this.pending.push({ length: ids.length, ids, request, index }));
      this.queuedItems += sequences.length;
      this.queuedTokens += tokens;
      this.observer.queueDepth?.(this.queuedItems, this.queuedTokens);

      const timeoutMs = this.options.queue_timeout_ms;
      if (timeoutMs > 0) request.timer = setTimeout(() => this.expire(request), timeoutMs);
      if (signal) {
        request.signal = signal;
        request.onAbort = () => {
          request.abandoned = true;
          this.settle(request, errors.clientClosed());
        };
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      this.schedulePump();
    });
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Refuse new requests (draining), let queued items finish for up to `timeoutMs`, then fail
   * what is still queued with `draining` and wait for the batches already running.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.whenIdle().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const stranded = new Set(this.pending.map((item) => item.request).filter((r) => !r.settled));
      for (const request of stranded) {
        this.observer.rejected?.('draining', request.queuedItems);
        this.settle(request, errors.draining());
      }
    }
    await this.whenIdle();
  }

  /**
   * The overloaded refusal that `count` more items would get from submit(), known before they are
   * formatted or tokenized: a full queue then costs a request no more than its parsing (under 5x
   * overload the tokenizing of refused requests had taken the event loop the answers needed).
   * Counts the rejection; undefined when the items may go on to submit().
   */
  refuseEarly(count: number): WarmServeError | undefined {
    const o = this.options;
    if (count === 0 || count > o.max_queue_items) return undefined; // submit() names the request's own limit
    const reason = this.queuedItems + count > o.max_queue_items ? 'queue_items' : this.queuedTokens >= o.max_queue_tokens ? 'queue_tokens' : undefined;
    if (!reason) return undefined;
    this.observer.rejected?.(reason, count);
    return this.queueFull(reason, 0);
  }

  /** The 503 of a queue full by items or by tokens; Retry-After counts `extraTokens` on top of the backlog. */
  private queueFull(reason: 'queue_items' | 'queue_tokens', extraTokens: number): WarmServeError {
    const o = this.options;
    const state = reason === 'queue_items'
      ? `${this.queuedItems} items queued, max_queue_items=${o.max_queue_items}`
      : `${this.queuedTokens} tokens queued, max_queue_tokens=${o.max_queue_tokens}`;
    return errors.overloaded(state, this.retryAfterSeconds(extraTokens));
  }

  private admissionError(sequences: readonly Int32Array[], signal?: AbortSignal): WarmServeError | undefined {
    const o = this.options;
    const refuse = (reason: RejectionReason, err: WarmServeError) => {
      this.observer.rejected?.(reason, sequences.length);
      return err;
    };
    if (this.closed) return refuse('draining', errors.draining());
    if (signal?.aborted) return errors.clientClosed();
    let tokens = 0;
    for (let i = 0; i < sequences.length; i++) {
      const length = sequences[i].length;
      tokens += length;
      if (length > o.max_batch_tokens) {
        return refuse('too_large', errors.tooLarge(`items[${i}]`, o.max_batch_tokens, length, 'tokens',
          'no batch can hold it: lower max_length or raise max_batch_tokens'));
      }
    }
    if (sequences.length > o.max_queue_items) {
      return refuse('too_large', errors.tooLarge('items', o.max_queue_items, sequences.length, 'items',
        'split the request (max_queue_items)'));
    }
    if (tokens > o.max_queue_tokens) {
      return refuse('too_large', errors.tooLarge('items', o.max_queue_tokens, tokens, 'tokens',
        'split the request (max_queue_tokens)'));
    }
    if (this.queuedItems + sequences.length > o.max_queue_items) return refuse('queue_items', this.queueFull('queue_items', tokens));
    if (this.queuedTokens + tokens > o.max_queue_tokens) return refuse('queue_tokens', this.queueFull('queue_tokens', tokens));
    return undefined;
  }

  /** Seconds until the current backlog (plus `extraTokens`) should have been computed. */
  private retryAfterSeconds(extraTokens = 0): number {
    const tokensPerMs = this.runner.tokensPerMs;
    if (tokensPerMs <= 0) return 1;
    const seconds = Math.ceil((this.queuedTokens + extraTokens) / tokensPerMs / 1000);
    return Math.min(MAX_RETRY_AFTER_S, Math.max(1, seconds));
  }

  private expire(request: PendingRequest): void {
    request.timer = undefined;
    if (request.settled || request.queuedItems === 0) return; // all items already computing
    const waited = performance.now() - request.enqueuedAt;
    this.observer.rejected?.('queue_timeout', request.queuedItems);
    this.settle(request, errors.queueTimeout(waited, this.options.queue_timeout_ms, this.retryAfterSeconds()));
  }

  /** Finish a request once; its still-queued items become dead and are dropped later. */
  private settle(request: PendingRequest, err?: Error): void {
    if (request.settled) return;
    request.settled = true;
    clearTimeout(request.timer);
    if (request.onAbort) request.signal?.removeEventListener('abort', request.onAbort);
    if (request.queuedItems > 0) {
      this.queuedItems -= request.queuedItems;
      this.queuedTokens -= request.queuedTokens;
      this.deadInPending += request.queuedItems;
      request.queuedItems = 0;
      request.queuedTokens = 0;
      this.observer.queueDepth?.(this.queuedItems, this.queuedTokens);
      // Bound memory when requests die faster than batches form (e.g. a slow engine).
      if (this.deadInPending > 64 && this.deadInPending * 2 > this.pending.length) this.pending = this.dropDead();
    }
    if (err) request.reject(err);
    else request.resolve({ rewards: request.rewards, members: request.members, heads: request.heads, queueMs: request.queueMs, inferenceMs: request.inferenceMs });
    this.checkIdle();
  }

  /** The live items of `pending`, counting abandoned ones as dropped. */
  private dropDead(): QueuedItem[] {
    if (this.deadInPending === 0) return this.pending;
    let abandoned = 0;
    const live = this.pending.filter((item) => {
      if (!item.request.settled) return true;
      if (item.request.abandoned) abandoned++;
      return false;
    });
    this.deadInPending = 0;
    if (abandoned > 0) this.observer.abandoned?.(abandoned);
    return live;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // setImmediate, not a microtask: requests that arrive in the same I/O phase share a batch.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Start batches while there is room in flight and something queued. */
  private pump(): void {
    const o = this.options;
    this.pending = this.dropDead();
    while (this.inflight < o.max_inflight_batches && this.queuedItems > 0) {
      this.pending = this.dropDead(); // a synchronous engine failure may have settled requests
      const fullBatchWaiting = this.queuedItems >= o.max_batch_size || this.queuedTokens >= o.max_batch_tokens;
      if (o.max_queue_delay_ms > 0 && !fullBatchWaiting) {
        const waited = performance.now() - this.pending[0].request.enqueuedAt;
        if (waited < o.max_queue_delay_ms) {
          this.delayTimer ??= setTimeout(() => {
            this.delayTimer = undefined;
            this.pump();
          }, o.max_queue_delay_ms - waited);
          return;
        }
      }
      const batch = selectBatch(this.pending, {
        maxBatchSize: o.max_batch_size,
        maxBatchTokens: o.max_batch_tokens,
        maxPaddingRatio: o.max_padding_ratio,
      });
      const chosen = new Set(batch);
      this.pending = this.pending.filter((item) => !chosen.has(item));
      this.dispatch(batch);
    }
  }

  /** Take a formed batch out of the queue's counts and start it on the runner. */
  private dispatch(items: QueuedItem[]): void {
    this.inflight++;
    const startedAt = performance.now();
    let longest = 0;
    let realTokens = 0;
    for (const item of items) {
      const request = item.request;
      longest = Math.max(longest, item.length);
      realTokens += item.length;
      request.queuedItems--;
      request.queuedTokens -= item.length;
      this.queuedItems--;
      this.queuedTokens -= item.length;
      const waited = startedAt - request.enqueuedAt;
      request.queueMs = Math.max(request.queueMs, waited);
      this.observer.queueWait?.(waited);
    }
    const paddedTokens = longest * items.length;
    this.observer.queueDepth?.(this.queuedItems, this.queuedTokens);
    this.observer.batchFormed?.({
      size: items.length,
      realTokens,
      paddedTokens,
      paddingRatio: paddedTokens === 0 ? 0 : 1 - realTokens / paddedTokens,
    });
    void this.runner.run({ items, startedAt, realTokens });
  }

  /** The runner answered a batch: its place in flight goes to the next one. */
  private batchFinished(): void {
    this.inflight--;
    this.pump();
    this.checkIdle();
  }

  private isIdle(): boolean {
    return this.queuedItems === 0 && this.inflight === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

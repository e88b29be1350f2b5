/**
 * Callbacks the batcher fires at the exact place each thing happens, so the metrics layer
 * (prom-client in src/server) records them without the batcher knowing about Prometheus.
 * Every callback is optional and must not throw.
 */

/** Why the queue refused or failed a request. */
export type RejectionReason = 'queue_items' | 'queue_tokens' | 'queue_timeout' | 'draining' | 'too_large';

/** One batch as it leaves the queue. */
export interface BatchFormed {
  /** Items in the batch. */
  size: number;
  /** Sum of the items' token counts. */
  realTokens: number;
  /** Batch size x longest item: what the engine computes. */
  paddedTokens: number;
  /** Share of padded tokens that are padding, 0..1. */
  paddingRatio: number;
}

/** Metrics hooks for the batching queue. */
export interface BatchObserver {
  /** Queue depth after every change. */
  queueDepth?(items: number, tokens: number): void;
  /** A batch was formed and handed to the engine. */
  batchFormed?(batch: BatchFormed): void;
  /** Time one item spent queued before its batch started, in ms (once per item). */
  queueWait?(ms: number): void;
  /** A forward pass finished (ok or not), in ms. */
  inference?(ms: number, size: number, ok: boolean): void;
  /** A request was refused or failed by the queue (not by the engine). */
  rejected?(reason: RejectionReason, items: number): void;
  /** Items whose client went away, dropped before being computed. */
  abandoned?(items: number): void;
}

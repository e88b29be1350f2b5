import type { Aggregate } from './aggregate.js';

/**
 * What goes into and comes out of the scoring service (src/scoring/service.ts), shared by the
 * HTTP layer (src/server), the CLI (eval, score) and the library entry.
 */

/** One item to score: a prompt/completion pair, a chat, raw model text, or token ids scored as given. */
export type ScoreInput =
  | { prompt: string; completion: string }
  | { messages: { role: string; content: string }[] }
  | { text: string }
  | { input_ids: number[] };

export interface ScoreOptions {
  /** false: an item longer than max_length is refused (422) instead of truncated. Default true. */
  truncate?: boolean;
  /** Aborted when the client goes away: queued items are dropped before inference. */
  signal?: AbortSignal;
  /** Which reward `reward` holds (src/scoring/aggregate.ts). Default 'warm'; others need ensemble mode. */
  aggregate?: Aggregate;
  /** Also return each member's reward and their variance per item (ensemble mode only). */
  returnMembers?: boolean;
  /** Also return each item's head values (the model's output row; multi-head models have n > 1). */
  returnHeads?: boolean;
  /** Keep at most this many tokens per item (below max_length; vLLM's truncate_prompt_tokens). */
  maxTokens?: number;
}

/** The result for one item, in request order. */
export interface ScoredItem {
  reward: number;
  truncated: boolean;
  /** Tokens fed to the model for this item (special tokens included). */
  tokens: number;
  /** With returnMembers: each member's (normalised) reward, in `info.ensemble.members` order. */
  members?: number[];
  /** With returnMembers: population variance of `members`. */
  uncertainty?: number;
  /** With returnHeads: the model's output row for this item, one value per head, before head_weights and normalisation. */
  heads?: number[];
}

/** Where one request's time went, in milliseconds. */
export interface ScoreTimings {
  tokenize_ms: number;
  queue_ms: number;
  inference_ms: number;
}

export interface ScoreResult {
  items: ScoredItem[];
  timings: ScoreTimings;
}

/** What /v1/info reports about the model. */
export interface ModelInfo {
  name: string;
  path: string;
  max_length: number;
  padding_side: 'left' | 'right';
  members: { name: string; path: string }[];
  merge?: Record<string, unknown>;
  execution_provider: string;
  inputs: string[];
  /** Prefix sharing in force (a graph that takes a past, and prefix_sharing auto). */
  prefix_sharing: { enabled: boolean; min_tokens?: number; cache_mb?: number };
  /** Entries of the reward cache (0 = off). */
  reward_cache: { items: number };
  /** The output's columns by name (warm.json head_names, else head_0, head_1, ...). */
  head_names: string[];
  /** warm.json head_weights (reward = head_weights · heads); absent: the reward is head 0. */
  head_weights?: number[];
  /** Present in ensemble mode: the members loaded beside the model and λ of the 'uwo' aggregate. */
  ensemble?: { members: string[]; uwo_lambda: number };
}

/**
 * The scoring service itself is a class (src/scoring/service.ts); its type is re-exported here
 * for the modules that take one and import their types from this file (bulk scoring, eval,
 * admission).
 */
export type { ScoringService } from './service.js';

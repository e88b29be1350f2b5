/**
 * The scoring service contract between the HTTP layer (src/server), the CLI (eval, score) and
 * the implementation (src/scoring/service.ts over src/model + src/batching).
 */

/** One item to score: a prompt/completion pair, a chat, or raw model text. */
export type ScoreInput =
  | { prompt: string; completion: string }
  | { messages: { role: string; content: string }[] }
  | { text: string };

export interface ScoreOptions {
  /** false: an item longer than max_length is refused (422) instead of truncated. Default true. */
  truncate?: boolean;
  /** Aborted when the client goes away: queued items are dropped before inference. */
  signal?: AbortSignal;
}

/** The result for one item, in request order. */
export interface ScoredItem {
  reward: number;
  truncated: boolean;
  /** Tokens fed to the model for this item (special tokens included). */
  tokens: number;
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
}

/** The scoring service: tokenization, the shared batching queue and the engine behind one call. */
export interface ScoringService {
  readonly info: ModelInfo;
  /** Score items; rejects with a WarmServeError (overloaded, queue_timeout, validation, engine...). */
  score(items: ScoreInput[], opts?: ScoreOptions): Promise<ScoreResult>;
  /** Run one forward pass so the first request does not pay for initialisation. */
  warmup(): Promise<void>;
  /** Stop accepting new items, finish queued ones, then release the engine. */
  drain(timeoutMs: number): Promise<void>;
}

/** warm-serve/client: a typed client for the reward server's native API. */
export { WarmServeClient, type CallOptions, type RetryEvent, type WarmServeClientOptions } from './client.js';
export { WarmServeClientError, type ClientErrorKind } from './errors.js';
export type { ErrorResponse, InfoResponse, RankRequest, RankResponse, ScoreItem, ScoreRequest, ScoreResponse } from './types.js';

/**
 * A typed client for warm-serve's native API over undici. Busy or starting servers answer 503
 * (or 429) with Retry-After; the client waits as told and tries again, but never beyond a total
 * retry budget, so a trainer fails fast instead of hanging. A refused or reset connection (a
 * replica restarting or closing its listener) is retried the same way: scoring is a pure function
 * of the request, so sending it again is safe. Each attempt has its own timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { WarmServeClientError } from './errors.js';
import { retryAfterMs } from './retry-after.js';
import type { ErrorResponse, InfoResponse, RankRequest, RankResponse, ScoreItem, ScoreRequest, ScoreResponse } from './types.js';

/** How the client talks to the server. Everything but baseUrl is optional. */
export interface WarmServeClientOptions {
  /** e.g. http://localhost:8000 */
  baseUrl: string;
  /** Per attempt, from sending the request to the last byte of the answer. Default 30 000 ms. */
  timeoutMs?: number;
  /** Total time a call may spend on retries (waits and attempts after the first). Default 60 000 ms; 0 disables retries. */
  retryBudgetMs?: number;
  /** Wait when a 503/429 carries no Retry-After, or after a connection error; doubled per retry, at most 8x. Default 500 ms. */
  backoffMs?: number;
  /** Sent with every request (e.g. authorization for a gateway). */
  headers?: Record<string, string>;
  /** For a server with authentication: sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** An undici dispatcher (connection pool); default: one keep-alive Agent per client. */
  dispatcher?: Dispatcher;
  /** Told about each retry before its wait, e.g. to log it. */
  onRetry?: (retry: RetryEvent) => void;
}

/** One retry about to happen. */
export interface RetryEvent {
  /** The attempt that failed, from 1. */
  attempt: number;
  /** The HTTP status, 0 for a connection error. */
  status: number;
  /** The server's error_type, or 'network' for a connection error. */
  errorType?: string;
  waitMs: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Abort the call (all attempts and waits). */
  signal?: AbortSignal;
  /** Sent as x-request-id (the server echoes it in logs and answers). */
  requestId?: string;
}

const RETRYABLE = new Set([429, 503]);

/** Client for POST /v1/score, POST /v1/rank and GET /v1/info. */
export class WarmServeClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retryBudgetMs: number;
  private readonly backoffMs: number;
  private readonly headers: Record<string, string>;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly onRetry?: (retry: RetryEvent) => void;

  constructor(options: WarmServeClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retryBudgetMs = options.retryBudgetMs ?? 60_000;
    this.backoffMs = options.backoffMs ?? 500;
    this.headers = { ...options.headers, ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 30_000 });
    this.onRetry = options.onRetry;
  }

  /** Rewards for `items`, in order. */
  score(items: ScoreItem[], options: Omit<ScoreRequest, 'items'> & CallOptions = {}): Promise<ScoreResponse> {
    const { signal, requestId, ...rest } = options;
    return this.call<ScoreResponse>('POST', '/v1/score', { items, ...rest }, { signal, requestId });
  }

  /** The completions of one prompt, best first (best-of-N). */
  rank(prompt: string, completions: string[], options: Omit<RankRequest, 'prompt' | 'completions'> & CallOptions = {}): Promise<RankResponse> {
    const { signal, requestId, ...rest } = options;
    return this.call<RankResponse>('POST', '/v1/rank', { prompt, completions, ...rest }, { signal, requestId });
  }

  /** The served model, its limits and batching settings. */
  info(options: CallOptions = {}): Promise<InfoResponse> {
    return this.call<InfoResponse>('GET', '/v1/info', undefined, options);
  }

  /** Close the connection pool (when the client created it). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, options: CallOptions): Promise<T> {
    const started = Date.now();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const backoffMs = this.backoffMs * 2 ** Math.min(attempt - 1, 3);
      let retry: { failure: WarmServeClientError; waitMs: number; status: number; errorType?: string };
      try {
        const answer = await this.attempt(method, path, payload, options, attempt);
        if (answer.status >= 200 && answer.status < 300) return answer.json as T;
        const error = answer.json as Partial<ErrorResponse> | undefined;
        const failure = new WarmServeClientError(
          'http',
          `${method} ${path}: HTTP ${answer.status}${error?.error ? `: ${error.error}` : ''}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`,
          { status: answer.status, body: error, attempts: attempt },
        );
        if (!RETRYABLE.has(answer.status)) throw failure;
        retry = { failure, waitMs: retryAfterMs(answer.retryAfter) ?? backoffMs, status: answer.status, errorType: error?.error_type };
      } catch (err) {
        if (!(err instanceof WarmServeClientError) || err.kind !== 'network') throw err;
        retry = { failure: err, waitMs: backoffMs, status: 0, errorType: 'network' };
      }
      if (Date.now() - started + retry.waitMs > this.retryBudgetMs) throw retry.failure;
      this.onRetry?.({ attempt, status: retry.status, errorType: retry.errorType, waitMs: retry.waitMs });
      await sleep(retry.waitMs, undefined, { signal: options.signal });
    }
  }

  /** One HTTP exchange under the per-attempt timeout. */
  private async attempt(method: string, path: string, payload: string | undefined, options: CallOptions, attempt: number) {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (options.requestId) headers['x-request-id'] = options.requestId;
    try {
      const res = await request(`${this.baseUrl}${path}`, { method: method as Dispatcher.HttpMethod, headers, body: payload, signal, dispatcher: this.dispatcher });
      const text = await res.body.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // e.g. a proxy's HTML error page: reported by status
      }
      return { status: res.statusCode, json, retryAfter: res.headers['retry-after'] };
    } catch (err) {
      if (timeout.aborted) {
        throw new WarmServeClientError('timeout', `${method} ${path}: no answer within ${this.timeoutMs} ms (timeoutMs)`, { attempts: attempt, cause: err });
      }
      if (options.signal?.aborted) throw err;
      const suffix = attempt > 1 ? ` (after ${attempt} attempts)` : '';
      throw new WarmServeClientError('network', `${method} ${path}: ${(err as Error).message}${suffix}`, { attempts: attempt, cause: err });
    }
  }
}

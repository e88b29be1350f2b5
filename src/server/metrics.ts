/**
 * Prometheus metrics on a registry of our own (so several servers in one process, e.g. tests,
 * do not collide). The batcher reports through `batchObserver` at the place each thing
 * happens; the HTTP layer reports requests, tokenization and its own refusals.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import type { BatchObserver } from '../batching/observer.js';
import type { PrefixStats } from '../model/prefix-cache.js';
import type { RewardCacheStats } from '../model/reward-cache.js';

/** The caches' figures (each absent when its cache is off). */
interface CacheFigures {
  prefix?: PrefixStats;
  reward?: RewardCacheStats;
}

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every metric the server exports, plus the observer that feeds the batching ones. */
export class ServerMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'warm_serve_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly requestDuration = new Histogram({
    name: 'warm_serve_request_duration_seconds',
    help: 'Total time from request received to response sent, by route',
    labelNames: ['route'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly tokenizationDuration = new Histogram({
    name: 'warm_serve_tokenization_duration_seconds',
    help: "Time to format and tokenize one request's items",
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly queueDuration = new Histogram({
    name: 'warm_serve_queue_duration_seconds',
    help: 'Time one item waited in the queue before its batch started',
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly inferenceDuration = new Histogram({
    name: 'warm_serve_inference_duration_seconds',
    help: 'Time of one forward pass (one batch)',
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly inferenceFailures = new Counter({
    name: 'warm_serve_inference_failures_total',
    help: 'Forward passes that failed (each fails the requests it carried with 500)',
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'warm_serve_batch_size',
    help: 'Items per forward pass',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  });
  private readonly batchTokens = new Histogram({
    name: 'warm_serve_batch_tokens',
    help: 'Padded tokens (items x longest item) per forward pass',
    buckets: exponentialBuckets(16, 2, 14),
    registers: [this.registry],
  });
  private readonly paddingRatio = new Histogram({
    name: 'warm_serve_batch_padding_ratio',
    help: 'Share of padding in the padded tokens of one forward pass (0: none wasted)',
    buckets: [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    registers: [this.registry],
  });
  private readonly queueItems = new Gauge({
    name: 'warm_serve_queue_items',
    help: 'Items waiting in the batching queue',
    registers: [this.registry],
  });
  private readonly queueTokens = new Gauge({
    name: 'warm_serve_queue_tokens',
    help: 'Tokens waiting in the batching queue',
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: 'warm_serve_rejections_total',
    help: 'Requests refused before scoring, by reason (queue_items, queue_tokens, queue_timeout, draining, not_ready, too_large, request_limits, unauthorized, max_connections)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly abandoned = new Counter({
    name: 'warm_serve_abandoned_items_total',
    help: 'Queued items dropped because their client went away',
    registers: [this.registry],
  });
  private readonly scoredItems = new Counter({
    name: 'warm_serve_scored_items_total',
    help: 'Items scored successfully',
    registers: [this.registry],
  });
  private readonly scoredTokens = new Counter({
    name: 'warm_serve_scored_tokens_total',
    help: 'Tokens of the items scored successfully',
    registers: [this.registry],
  });

  /** Where the cache metrics read their figures at each scrape (set once the model is loaded). */
  private caches: () => CacheFigures = () => ({});

  constructor() {
    // Process metrics and nodejs_eventloop_lag_* (perf_hooks.monitorEventLoopDelay). Each sample is
    // the whole interval between two timer ticks, so it reads resolution + delay: 1 ms instead of the
    // default 10 leaves 1 ms of bias, for ~1.5% of a core on an idle server (bench/RESULTS.md).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    // The caches keep their own counters (the prefix cache on the sessions' worker threads); each
    // scrape copies them in.
    const caches = () => this.caches();
    const cacheMetric = (kind: 'counter' | 'gauge', name: string, help: string, read: (f: CacheFigures) => number | undefined) => {
      const collect = function (this: Counter | Gauge) {
        this.reset();
        const value = read(caches());
        if (value !== undefined) (this as Gauge).inc(value);
      };
      const options = { name, help, registers: [this.registry], collect };
      if (kind === 'counter') new Counter(options);
      else new Gauge(options);
    };
    cacheMetric('counter', 'warm_serve_prefix_tokens_reused_total', 'Tokens not computed because items shared a prefix (within a batch or through the prefix cache)', (f) => f.prefix?.tokensReused);
    cacheMetric('counter', 'warm_serve_prefix_cache_hits_total', 'Items that found a shared prefix in the prefix cache (summed over sessions)', (f) => f.prefix?.hits);
    cacheMetric('counter', 'warm_serve_prefix_cache_misses_total', 'Items longer than prefix_min_tokens that found no prefix in the cache', (f) => f.prefix?.misses);
    cacheMetric('counter', 'warm_serve_prefix_cache_evictions_total', 'Prefixes evicted from the prefix cache to stay within prefix_cache_mb', (f) => f.prefix?.evictions);
    cacheMetric('gauge', 'warm_serve_prefix_cache_bytes', 'Bytes of keys and values held by the prefix caches', (f) => f.prefix?.bytes);
    cacheMetric('gauge', 'warm_serve_prefix_cache_entries', 'Prefixes held by the prefix caches', (f) => f.prefix?.entries);
    cacheMetric('counter', 'warm_serve_reward_cache_hits_total', 'Items answered from the reward cache (exact duplicates)', (f) => f.reward?.hits);
    cacheMetric('counter', 'warm_serve_reward_cache_misses_total', 'Items not found in the reward cache', (f) => f.reward?.misses);
    cacheMetric('counter', 'warm_serve_reward_cache_evictions_total', 'Rewards evicted from the reward cache to stay within reward_cache_items', (f) => f.reward?.evictions);
    cacheMetric('gauge', 'warm_serve_reward_cache_items', 'Rewards held by the reward cache', (f) => f.reward?.items);
  }

  /** The model served and where it runs, once loaded (1 per model; the labels carry the facts). */
  modelInfo(model: string, executionProvider: string): void {
    new Gauge({
      name: 'warm_serve_model_info',
      help: 'The model served (label model) and the execution provider its sessions run on (cpu, cuda, tensorrt, webgpu); always 1',
      labelNames: ['model', 'execution_provider'] as const,
      registers: [this.registry],
    }).set({ model, execution_provider: executionProvider }, 1);
  }

  /** Read the cache metrics from `source` at each scrape. */
  watchCaches(source: () => CacheFigures): void {
    this.caches = source;
  }

  /** Feeds the batching metrics; handed to the scoring service. */
  readonly batchObserver: BatchObserver = {
    queueDepth: (items, tokens) => {
      this.queueItems.set(items);
      this.queueTokens.set(tokens);
    },
    batchFormed: (batch) => {
      this.batchSize.observe(batch.size);
      this.batchTokens.observe(batch.paddedTokens);
      this.paddingRatio.observe(batch.paddingRatio);
    },
    queueWait: (ms) => this.queueDuration.observe(ms / 1000),
    inference: (ms, _size, ok) => {
      this.inferenceDuration.observe(ms / 1000);
      if (!ok) this.inferenceFailures.inc();
    },
    rejected: (reason) => this.rejections.inc({ reason }),
    abandoned: (items) => this.abandoned.inc(items),
  };

  /** One HTTP request finished. */
  request(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.requestDuration.observe({ route }, seconds);
  }

  /** One request's items were formatted and tokenized. */
  tokenization(ms: number): void {
    this.tokenizationDuration.observe(ms / 1000);
  }

  /** One request's items were scored. */
  scored(items: number, tokens: number): void {
    this.scoredItems.inc(items);
    this.scoredTokens.inc(tokens);
  }

  /** The HTTP layer refused a request before it reached the queue. */
  rejected(reason: 'not_ready' | 'draining' | 'request_limits' | 'unauthorized' | 'max_connections'): void {
    this.rejections.inc({ reason });
  }
}

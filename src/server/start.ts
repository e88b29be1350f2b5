/**
 * Start and stop a server around one model: listen first (so /health answers and /ready says
 * "starting" while the model loads), load the model, warm it up, then turn /ready green.
 * Stopping drains: /ready turns 503, new requests get 503 draining, queued and in-flight
 * requests finish, then the listener and the connections close without racing their clients
 * (drain_linger_ms, connections.ts).
 */
import type { FastifyBaseLogger } from 'fastify';
import { batchingSettings, inlineSettings, prefixSharingSettings, type ServeConfig } from '../config/schema.js';
import { ScoringService, type ScoringServiceOptions } from '../scoring/service.js';
import { buildApp, type App } from './app.js';
import { closeListener, unusedClosed } from './connections.js';

/** A listening server and how to stop it. */
export interface RunningServer extends App {
  /** e.g. http://127.0.0.1:8000 */
  url: string;
  service: ScoringService;
  /** Drain and close; resolves false when the drain timeout passed with work left. */
  stop(): Promise<boolean>;
}

/** Extra service options; tests use `createEngine` to wrap the real engine (e.g. to inject failures). */
export type ServiceOverrides = Pick<ScoringServiceOptions, 'createEngine'>;

/** Listen, load the model, warm up, mark ready. Throws (after closing the socket) when the model cannot load. */
export async function startServer(
  config: ServeConfig,
  logger?: FastifyBaseLogger,
  overrides: ServiceOverrides = {},
): Promise<RunningServer> {
  const built = await buildApp({ config, logger });
  const { app, state, metrics } = built;
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info({ url, model: config.model }, 'listening; loading model');

  let service: ScoringService;
  try {
    const started = performance.now();
    service = await ScoringService.create(config.model, {
      batching: batchingSettings(config),
      engine: {
        intraOpThreads: config.intra_op_threads,
        interOpThreads: config.inter_op_threads,
        device: config.device,
        inline: inlineSettings(config),
        prefixSharing: prefixSharingSettings(config),
      },
      rewardCacheItems: config.reward_cache_items,
      observer: metrics.batchObserver,
      ensemble: config.ensemble,
      uwoLambda: config.uwo_lambda,
      template: { timeoutMs: config.template_timeout_ms },
      ...overrides,
    });
    for (const warning of service.directory.warnings) app.log.warn({ model: service.info.name }, warning);
    await service.warmup();
    metrics.watchCaches(() => service.cacheStats());
    metrics.modelInfo(service.info.name, service.info.execution_provider);
    state.markReady(service);
    app.log.info(
      { model: service.info.name, max_length: service.info.max_length, load_ms: Math.round(performance.now() - started) },
      'ready',
    );
  } catch (err) {
    await app.close();
    throw err;
  }

  let stopping: Promise<boolean> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      state.startDraining();
      const timeoutMs = config.drain_timeout_ms;
      app.log.info({ drain_timeout_ms: timeoutMs, drain_linger_ms: config.drain_linger_ms, queued_items: service.stats.queuedItems }, 'draining');
      const started = performance.now();
      const left = () => timeoutMs - (performance.now() - started);
      // The queue itself fails what is still queued once timeoutMs has passed (503 draining).
      await service.drain(timeoutMs);
      const drainedInTime = left() > 0;
      const drainMs = Math.round(performance.now() - started);
      // Work done: stop listening and close the connections without racing their clients.
      const listener = await closeListener(app, config.drain_linger_ms, started + timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        app.close().then(() => true), // waits for in-flight responses to be written
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(1000, left())))),
      ]);
      clearTimeout(timer);
      // Out of time: cut what is left (e.g. a client still sending its body) so the process exits now.
      if (!closed) app.server.closeAllConnections();
      const inTime = drainedInTime && closed;
      const timings = { drain_ms: drainMs, ...listener, unused: unusedClosed(app), total_ms: Math.round(performance.now() - started) };
      if (inTime) app.log.info(timings, 'drained; bye');
      else app.log.error({ drain_timeout_ms: timeoutMs, ...timings }, 'drain timeout passed with work left; queued requests got 503 draining');
      return inTime;
    })());

  return { ...built, url, service, stop };
}

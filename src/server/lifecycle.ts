/**
 * Where the server is in its life: starting (listening, model loading or warming up), ready,
 * or draining (shutting down). Scoring routes ask it for the service and get a 503 instead
 * while there is none to use.
 */
import { errors } from '../errors.js';
import type { ScoringService } from '../scoring/service.js';

/** The server's phase, as /ready reports it. */
export type Phase = 'starting' | 'ready' | 'draining';

/** The scoring service slot and the phase that guards it. */
export class ServerState {
  private current: Phase = 'starting';
  private loaded?: ScoringService;

  get phase(): Phase {
    return this.current;
  }

  /** The service once loaded (also while draining), for /v1/info. */
  get service(): ScoringService | undefined {
    return this.loaded;
  }

  /** The model is loaded and warmed up: start serving. */
  markReady(service: ScoringService): void {
    this.loaded = service;
    if (this.current === 'starting') this.current = 'ready';
  }

  /** Shutdown began: /ready turns 503 and new scoring requests are refused. */
  startDraining(): void {
    this.current = 'draining';
  }

  /** The service for a new scoring request; throws the 503 not_ready / draining otherwise. */
  acquire(): ScoringService {
    if (this.current === 'draining') throw errors.draining();
    if (this.current === 'starting' || !this.loaded) throw errors.notReady();
    return this.loaded;
  }
}

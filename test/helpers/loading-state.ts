/** A server state that starts loading the model when it first refuses a request (503 not_ready). */
import { batchingSettings, type ServeConfig } from '../../src/config/schema.js';
import { createScoringService, type LoadedScoringService } from '../../src/scoring/service.js';
import { ServerState } from '../../src/server/lifecycle.js';

/** So a client's retry after Retry-After finds the server ready: the real 503-then-200 sequence, without timing guesses. */
export class LoadOnFirstRefusal extends ServerState {
  private loading?: Promise<LoadedScoringService>;

  constructor(private readonly config: ServeConfig) {
    super();
  }

  override acquire() {
    try {
      return super.acquire();
    } catch (err) {
      this.loading ??= createScoringService(this.config.model, { batching: batchingSettings(this.config) }).then((service) => {
        this.markReady(service);
        return service;
      });
      throw err;
    }
  }

  /** Drain the service once loaded (for teardown). */
  async release(): Promise<void> {
    const service = await this.loading;
    await service?.drain(1000);
  }
}

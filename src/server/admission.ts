/**
 * The HTTP layer's own admission checks before a request reaches the batching queue: is there
 * a service to use (503 not_ready / draining), and does the request fit the configured request
 * limits (413 naming the field and the limit)? The queue then applies its own bounds.
 */
import { errors, WarmServeError } from '../errors.js';
import type { ScoreInput, ScoringService } from '../scoring/types.js';
import type { ServerState } from './lifecycle.js';
import type { ServerMetrics } from './metrics.js';

/** The request limits from the serve config. */
export interface RequestLimits {
  max_items_per_request: number;
  max_completions_per_rank: number;
  max_chars_per_item: number;
}

/** Characters of an item as the client sent them (what max_chars_per_item limits). */
export function itemChars(item: ScoreInput): number {
  if ('text' in item) return item.text.length;
  if ('messages' in item) return item.messages.reduce((n, m) => n + m.content.length + m.role.length, 0);
  return item.prompt.length + item.completion.length;
}

/** Gatekeeper for the scoring routes; every refusal is counted in warm_serve_rejections_total. */
export class Admission {
  constructor(
    private readonly state: ServerState,
    private readonly metrics: ServerMetrics,
    private readonly limits: RequestLimits,
  ) {}

  /** The scoring service, or a 503 while starting or draining. */
  service(): ScoringService {
    try {
      return this.state.acquire();
    } catch (err) {
      if (err instanceof WarmServeError && (err.type === 'not_ready' || err.type === 'draining')) {
        this.metrics.rejected(err.type);
      }
      throw err;
    }
  }

  /** 413 when a request has too many items or too long an item; `field` names the list in the message. */
  checkItems(items: ScoreInput[], field = 'items'): void {
    const max = this.limits.max_items_per_request;
    if (items.length > max) {
      throw this.refuse(errors.tooLarge(field, max, items.length, 'items', 'split the request (max_items_per_request)'));
    }
    items.forEach((item, i) => this.checkChars(`${field}[${i}]`, itemChars(item)));
  }

  /** 413 when a /v1/rank request has too many completions or too long a prompt + completion. */
  checkRank(prompt: string, completions: string[]): void {
    const max = this.limits.max_completions_per_rank;
    if (completions.length > max) {
      throw this.refuse(
        errors.tooLarge('completions', max, completions.length, 'completions', 'split the request (max_completions_per_rank)'),
      );
    }
    completions.forEach((c, i) => this.checkChars(`completions[${i}]`, prompt.length + c.length));
  }

  private checkChars(field: string, chars: number): void {
    const max = this.limits.max_chars_per_item;
    if (chars > max) {
      throw this.refuse(errors.tooLarge(field, max, chars, 'characters', 'shorten the text (max_chars_per_item)'));
    }
  }

  private refuse(err: WarmServeError): WarmServeError {
    this.metrics.rejected('request_limits');
    return err;
  }
}

/**
 * The HTTP layer's own admission checks before a request reaches the batching queue: is there
 * a service to use (503 not_ready / draining), and does the request fit the configured request
 * limits (413 naming the field and the limit)? The queue then applies its own bounds.
 *
 * List lengths are checked twice over: on the parsed body before schema validation (`bounds`,
 * a preValidation hook), because validating costs time per element and per problem found (a
 * 2,000,000-element `items` took 77 s of zod on the event loop), and again on the validated
 * request (checkItems/checkRank), which also counts characters.
 */
import type { FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import { errors, WarmServeError } from '../errors.js';
import type { ScoreInput, ScoringService } from '../scoring/types.js';
import type { ServerState } from './lifecycle.js';
import type { ServerMetrics } from './metrics.js';
import { issuesMessage } from './validation-message.js';

/** The request limits from the serve config. */
export interface RequestLimits {
  max_items_per_request: number;
  max_completions_per_rank: number;
  max_chars_per_item: number;
  max_messages_per_item: number;
}

/** A list field of a request body and the limit on its length. */
export interface ListBound {
  field: string;
  limit: 'max_items_per_request' | 'max_completions_per_rank';
  /** The field may also be one list of token ids (vLLM's `input`): a list of numbers is one item, bounded by max_ids_per_item before parsing. */
  ids?: boolean;
}

/** What `Admission.bounds` checks on a body before its schema runs. */
export interface BodyBounds {
  lists: ListBound[];
  /** The list whose elements are score items: their `messages` are counted, and each item is validated on its own, stopping at the first bad one. */
  items?: { field: string; schema: ZodType };
}

const UNIT: Record<ListBound['limit'], string> = { max_items_per_request: 'items', max_completions_per_rank: 'completions' };

/** Characters of an item as the client sent them (what max_chars_per_item limits); token ids have none (max_ids_per_item bounds them before parsing). */
export function itemChars(item: ScoreInput): number {
  if ('text' in item) return item.text.length;
  if ('messages' in item) return item.messages.reduce((n, m) => n + m.content.length + m.role.length, 0);
  if ('input_ids' in item) return 0;
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

  /**
   * A preValidation hook: 413 for a list over its limit or an item with more than
   * max_messages_per_item messages, then the items validated one by one so the error work is
   * that of the first bad item. Anything else malformed is left to the schema.
   */
  bounds(spec: BodyBounds): (request: FastifyRequest) => Promise<void> {
    return async (request) => {
      const body = request.body as Record<string, unknown> | null;
      if (typeof body !== 'object' || body === null) return;
      for (const { field, limit, ids } of spec.lists) {
        const list = body[field];
        const max = this.limits[limit];
        if (Array.isArray(list) && list.length > max && !(ids && typeof list[0] === 'number')) {
          throw this.refuse(errors.tooLarge(field, max, list.length, UNIT[limit], `split the request (${limit})`));
        }
      }
      const items = spec.items && body[spec.items.field];
      if (!spec.items || !Array.isArray(items)) return;
      const maxMessages = this.limits.max_messages_per_item;
      items.forEach((item: { messages?: unknown }, i) => {
        const messages = typeof item === 'object' && item !== null ? item.messages : undefined;
        if (Array.isArray(messages) && messages.length > maxMessages) {
          throw this.refuse(errors.tooLarge(`${spec.items!.field}[${i}].messages`, maxMessages, messages.length, 'messages', 'send fewer messages (max_messages_per_item)'));
        }
      });
      for (let i = 0; i < items.length; i++) {
        const checked = spec.items.schema.safeParse(items[i]);
        if (!checked.success) throw errors.invalidFields(issuesMessage(checked.error.issues, [spec.items.field, i]));
      }
    };
  }

  /** 413 when a request has too many items or too long an item; `field` names the list in the message. */
  checkItems(items: ScoreInput[], field = 'items'): void {
    const max = this.limits.max_items_per_request;
    if (items.length > max) {
      throw this.refuse(errors.tooLarge(field, max, items.length, 'items', 'split the request (max_items_per_request)'));
    }
    items.forEach((item, i) => this.checkChars(`${field}[${i}]`, itemChars(item)));
  }

  /** 413 when one item (a route's single sample) is too long; `field` names it in the message. */
  checkItem(item: ScoreInput, field: string): void {
    this.checkChars(field, itemChars(item));
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

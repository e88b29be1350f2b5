/** The one error the client throws: an HTTP error answer, a timeout, or a network failure. */
import type { ErrorResponse } from './types.js';

/** What went wrong: the server answered an error, an attempt timed out, or the connection failed. */
export type ClientErrorKind = 'http' | 'timeout' | 'network';

/** A failed call, with the server's error body when there was one. */
export class WarmServeClientError extends Error {
  readonly kind: ClientErrorKind;
  /** HTTP status (0 for timeouts and network failures). */
  readonly status: number;
  /** The server's `error_type` (e.g. overloaded, validation_error), when it answered. */
  readonly errorType?: string;
  /** The server's `request_id`, to quote in a bug report. */
  readonly requestId?: string;
  /** Attempts made, retries included. */
  readonly attempts: number;

  constructor(kind: ClientErrorKind, message: string, opts: { status?: number; body?: Partial<ErrorResponse>; attempts: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WarmServeClientError';
    this.kind = kind;
    this.status = opts.status ?? 0;
    this.errorType = opts.body?.error_type;
    this.requestId = opts.body?.request_id;
    this.attempts = opts.attempts;
  }
}

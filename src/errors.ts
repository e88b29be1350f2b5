/**
 * The error catalogue: every error a user can cause, with a stable `error_type`, an HTTP status
 * and a message that says what went wrong and how to fix it. Thrown anywhere (model loading,
 * batching, routes); the HTTP layer maps them to `{"error", "error_type", "request_id"}`.
 */

export type ErrorType =
  | 'malformed_json'
  | 'unauthorized'
  | 'bad_request'
  | 'unsupported_media_type'
  | 'validation_error'
  | 'payload_too_large'
  | 'overloaded'
  | 'queue_timeout'
  | 'not_ready'
  | 'draining'
  | 'not_found'
  | 'engine_error'
  | 'client_closed'
  | 'model_error'
  | 'merge_error'
  | 'internal_error';

const STATUS: Record<ErrorType, number> = {
  malformed_json: 400,
  unauthorized: 401,
  bad_request: 400,
  unsupported_media_type: 415,
  validation_error: 422,
  payload_too_large: 413,
  overloaded: 503,
  queue_timeout: 503,
  not_ready: 503,
  draining: 503,
  not_found: 404,
  engine_error: 500,
  client_closed: 499,
  model_error: 500,
  merge_error: 1, // CLI only: exit status
  internal_error: 500,
};

/** An error from the catalogue. `retryAfterSeconds` is sent as Retry-After on 503s. */
export class WarmServeError extends Error {
  readonly type: ErrorType;
  readonly status: number;
  readonly retryAfterSeconds?: number;

  constructor(type: ErrorType, message: string, opts: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WarmServeError';
    this.type = type;
    this.status = STATUS[type];
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/** Error constructors, one per situation, so messages stay consistent. */
export const errors = {
  malformedJson: (detail: string) =>
    new WarmServeError('malformed_json', `request body is not valid JSON (${detail}); send one JSON object`),
  badRequest: (detail: string) => new WarmServeError('bad_request', detail),
  unauthorized: (detail: string) =>
    new WarmServeError('unauthorized', `${detail}; send 'Authorization: Bearer <key>' with one of the server's API keys`),
  tooDeep: (limit: number) =>
    new WarmServeError(
      'payload_too_large',
      `body: JSON nested deeper than the limit of ${limit} levels; send a flatter request (max_json_depth)`,
    ),
  tooManyElements: (field: string, limit: number) =>
    new WarmServeError(
      'payload_too_large',
      `${field}: a list of more than ${limit} elements, beyond every list limit (max_items_per_request, max_completions_per_rank, max_messages_per_item); split the request`,
    ),
  unsupportedMediaType: (contentType: string) =>
    new WarmServeError(
      'unsupported_media_type',
      `content type '${contentType}' is not supported; send the body as JSON with 'Content-Type: application/json'`,
    ),
  notFound: (method: string, url: string) =>
    new WarmServeError(
      'not_found',
      `no route ${method} ${url}; the API is POST /v1/score, POST /v1/rank, GET /v1/info (docs at GET /docs)`,
    ),
  validation: (field: string, problem: string) =>
    new WarmServeError('validation_error', `${field}: ${problem}`),
  tooLarge: (field: string, limit: number, actual: number, unit: string, hint: string) =>
    new WarmServeError(
      'payload_too_large',
      `${field}: ${actual} ${unit} exceeds the limit of ${limit} ${unit}; ${hint}`,
    ),
  overloaded: (reason: string, retryAfterSeconds: number) =>
    new WarmServeError('overloaded', `server overloaded (${reason}); retry after ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    }),
  queueTimeout: (waitedMs: number, limitMs: number, retryAfterSeconds: number) =>
    new WarmServeError(
      'queue_timeout',
      `request waited ${Math.round(waitedMs)} ms in the queue, over the ${limitMs} ms queue timeout; retry after ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    ),
  notReady: () =>
    new WarmServeError('not_ready', 'model is still loading or warming up; retry shortly', { retryAfterSeconds: 1 }),
  draining: () =>
    new WarmServeError('draining', 'server is shutting down; send the request to another replica', {
      retryAfterSeconds: 1,
    }),
  engine: (detail: string, cause?: unknown) =>
    new WarmServeError('engine_error', `inference failed: ${detail}; the server keeps serving, retry the request`, {
      cause,
    }),
  clientClosed: () => new WarmServeError('client_closed', 'client closed the connection before scoring'),
  model: (path: string, problem: string) => new WarmServeError('model_error', `model ${path}: ${problem}`),
  merge: (input: string, tensor: string | undefined, problem: string) =>
    new WarmServeError('merge_error', `${input}${tensor ? ` tensor '${tensor}'` : ''}: ${problem}`),
};

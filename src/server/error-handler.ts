/**
 * Every failure leaves the server as `{"error", "error_type", "request_id"}` with the status of
 * its catalogue entry (src/errors.ts): fastify's own errors (bad JSON, body too large, schema
 * validation, unknown route) are translated into catalogue errors here, and anything unknown
 * becomes a 500 that is logged with its stack while the server keeps serving.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { errors, WarmServeError } from '../errors.js';
import { validationMessage, type ValidationEntry } from './validation-message.js';

/** Map any thrown value to a catalogue error. */
export function toCatalogueError(err: unknown, request: FastifyRequest, bodyLimit: number): WarmServeError {
  if (err instanceof WarmServeError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const entries = (err as { validation: ValidationEntry[] }).validation;
    return errors.invalidFields(validationMessage(entries));
  }
  const fe = err as Partial<FastifyError> & Error;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const declared = Number(request.headers['content-length']);
      return errors.tooLarge('body', bodyLimit, Number.isFinite(declared) ? declared : bodyLimit + 1, 'bytes',
        'split the request or raise body_limit_bytes');
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(String(request.headers['content-type'] ?? 'none'));
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return errors.badRequest(fe.message);
  }
  return errors.internal(fe?.message ?? String(err), err);
}

/** Send a catalogue error in the one error body format (with its catalogue status unless `status` is given). */
export function sendError(err: WarmServeError, request: FastifyRequest, reply: FastifyReply, status = err.status): FastifyReply {
  request.outcome.errorType = err.type;
  if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
  return reply.code(status).send({ error: err.message, error_type: err.type, request_id: request.id });
}

/**
 * Map, log (server faults only) and send any thrown value. `statusFor` lets a compatibility
 * route answer with the status codes its foreign clients expect while keeping the one body.
 */
export function replyWithError(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  bodyLimit: number,
  statusFor: (mapped: WarmServeError) => number = (mapped) => mapped.status,
): FastifyReply {
  const mapped = toCatalogueError(err, request, bodyLimit);
  if (mapped.status >= 500 && mapped.type !== 'overloaded' && mapped.type !== 'queue_timeout' &&
    mapped.type !== 'not_ready' && mapped.type !== 'draining') {
    request.log.error({ err: mapped.cause ?? err, error_type: mapped.type }, mapped.message);
  }
  return sendError(mapped, request, reply, statusFor(mapped));
}

/** Install the error and not-found handlers on the app. */
export function installErrorHandlers(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err, request, reply) => replyWithError(err, request, reply, bodyLimit));
  // The path without the query string: a query can carry secrets (tokens, keys) that must not be echoed.
  app.setNotFoundHandler((request, reply) => sendError(errors.notFound(request.method, request.url.split('?', 1)[0]), request, reply));
}

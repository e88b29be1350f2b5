/** What the routes share: the lifecycle state, metrics, admission checks and settings. */
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ServeConfig } from '../config/schema.js';
import type { Admission } from './admission.js';
import type { ServerState } from './lifecycle.js';
import type { ServerMetrics } from './metrics.js';

/** Dependencies handed to every route module. */
export interface ServerContext {
  state: ServerState;
  metrics: ServerMetrics;
  admission: Admission;
  config: ServeConfig;
}

/** The fastify instance with zod schemas as its type provider. */
export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

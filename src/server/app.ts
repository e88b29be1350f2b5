/**
 * The fastify application: routes, validation, serialisation, errors, request logs, metrics and
 * the OpenAPI document with its Swagger UI. Listening and the model's life are the caller's
 * (src/cli/serve.ts); this only wires the HTTP side.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ServeConfig } from '../config/schema.js';
import { VERSION } from '../version.js';
import { Admission } from './admission.js';
import { ApiKeys } from './api-keys.js';
import { installAuth } from './auth.js';
import { installConnectionDraining } from './connections.js';
import type { ServerContext, ZodApp } from './context.js';
import { installErrorHandlers } from './error-handler.js';
import { installJsonBody } from './json-body.js';
import { ServerState } from './lifecycle.js';
import { ServerMetrics } from './metrics.js';
import { pruneUnusedSchemas } from './openapi-components.js';
import { installRequestLog, requestId } from './request-log.js';
import { infoRoute } from './routes/info.js';
import { compatRoutes } from './routes/compat.js';
import { probeRoutes } from './routes/probes.js';
import { rankRoute } from './routes/rank.js';
import { scoreRoute } from './routes/score.js';
import { zodSerializerCompiler } from './serializer.js';

/** What the app is built from. */
export interface AppOptions {
  config: ServeConfig;
  /** Defaults to a fresh state in 'starting'; the caller marks it ready once the model is warm. */
  state?: ServerState;
  metrics?: ServerMetrics;
  /** A pino logger; omitted: no logging. */
  logger?: FastifyBaseLogger;
}

/** A built app and the state and metrics it serves with. */
export interface App {
  app: ZodApp;
  state: ServerState;
  metrics: ServerMetrics;
}

const DOCS_PREFIX = '/docs';

/** Build the fastify app (not yet listening). */
export async function buildApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const state = options.state ?? new ServerState();
  const metrics = options.metrics ?? new ServerMetrics();
  const app = Fastify({
    loggerInstance: options.logger,
    // request-log.ts writes one summary line per request instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    bodyLimit: config.body_limit_bytes,
    // A client that trickles or stalls its request gets 408 and loses the connection (Node's
    // default has no limit on the body). Node checks these timeouts every
    // connectionsCheckingInterval (30 s by default): 1 s enforces them within a second.
    requestTimeout: config.request_timeout_ms,
    http: { connectionsCheckingInterval: 1000, headersTimeout: Math.min(60_000, config.request_timeout_ms) },
    // While it closes, requests still get the routes' answers: 503 draining has Retry-After
    // (fastify's own closing 503 has none); connections.ts closes the connections.
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();

  if (config.max_connections > 0) {
    app.server.maxConnections = config.max_connections;
    // Node closes a connection over the cap as soon as it is accepted.
    app.server.on('drop', () => metrics.rejected('max_connections'));
  }
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(zodSerializerCompiler);
  installJsonBody(app, config);
  installErrorHandlers(app, config.body_limit_bytes);
  installRequestLog(app, metrics);
  installAuth(app, ApiKeys.fromConfig(config), config.public_paths, metrics);
  installConnectionDraining(app, state);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'warm-serve',
        version: VERSION,
        description:
          'Reward scores from a weight-averaged reward model (WARM). Errors share one body: {"error", "error_type", "request_id"}; 503s carry Retry-After.',
      },
      tags: [
        { name: 'scoring', description: 'reward model API' },
        { name: 'operations', description: 'probes and metrics' },
        { name: 'compatibility', description: 'wire formats of OpenRLHF, slime, text-embeddings-inference, vLLM, SGLang and OpenAI embeddings, over the same model and queue' },
      ],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'only when the server has API keys (api_keys, api_keys_file); public_paths need none',
          },
        },
      },
      // Optional: a server without keys needs none.
      security: [{}, { apiKey: [] }],
    },
    transform: createJsonSchemaTransform({ skipList: [`${DOCS_PREFIX}/*`, '/openapi.json'] }),
    transformObject: (doc) => pruneUnusedSchemas(jsonSchemaTransformObject(doc)),
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const ctx: ServerContext = { state, metrics, config, admission: new Admission(state, metrics, config) };
  scoreRoute(app, ctx);
  rankRoute(app, ctx);
  infoRoute(app, ctx);
  probeRoutes(app, ctx);
  compatRoutes(app, ctx);
  await app.ready();
  return { app, state, metrics };
}

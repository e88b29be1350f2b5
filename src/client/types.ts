/**
 * Request and response types of the native API, derived from the server's own zod schemas
 * (src/api/schemas.ts). Type-only imports: the client never loads zod or fastify at run time.
 */
import type { z } from 'zod';
import type {
  ErrorResponseSchema,
  InfoResponseSchema,
  RankRequestSchema,
  RankResponseSchema,
  ScoreItemSchema,
  ScoreRequestSchema,
  ScoreResponseSchema,
} from '../api/schemas.js';

/** What POST /v1/score accepts (optional fields may be left out). */
export type ScoreRequest = z.input<typeof ScoreRequestSchema>;
/** One item: {prompt, completion}, {messages}, {text} or {input_ids}. */
export type ScoreItem = z.input<typeof ScoreItemSchema>;
/** What POST /v1/score returns. */
export type ScoreResponse = z.output<typeof ScoreResponseSchema>;
/** What POST /v1/rank accepts. */
export type RankRequest = z.input<typeof RankRequestSchema>;
/** What POST /v1/rank returns. */
export type RankResponse = z.output<typeof RankResponseSchema>;
/** What GET /v1/info returns. */
export type InfoResponse = z.output<typeof InfoResponseSchema>;
/** The body of every error response. */
export type ErrorResponse = z.output<typeof ErrorResponseSchema>;

/**
 * Response serialisation: each route's zod response schema is turned into JSON Schema once and
 * compiled with fast-json-stringify, so replies skip both zod and JSON.stringify's reflection.
 */
import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { z } from 'zod';

/** fastify serializer compiler for zod response schemas. */
export const zodSerializerCompiler: FastifySerializerCompiler<z.ZodType> = ({ schema }) =>
  fastJson(z.toJSONSchema(schema, { io: 'output', target: 'draft-7', unrepresentable: 'any' }) as object);

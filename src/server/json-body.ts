/**
 * The JSON body parser: like fastify's, but a syntax error says where the JSON broke
 * (400 malformed_json with the parser's position), bodies nested deeper than max_json_depth or
 * holding a list far longer than any route takes (or a list of numbers longer than
 * max_ids_per_item token ids) are refused before parsing (413), and only
 * JSON bodies are accepted (anything else is 415 rather than a confusing schema error).
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';
import { jsonShapeProblem } from './json-shape.js';

/** The limits the raw body is held to before it is parsed. */
export interface RawBodyLimits {
  max_json_depth: number;
  max_ids_per_item: number;
  max_items_per_request: number;
  max_completions_per_rank: number;
  max_messages_per_item: number;
}

/**
 * The longest list a body may hold before it is parsed: 4× the largest list limit. Every route
 * checks its own lists exactly after parsing (admission.ts); this only stops bodies whose
 * parsing alone would hold the event loop (2,000,000 items: ~100 ms), at the first few thousand
 * elements.
 */
export function rawListLimit(limits: RawBodyLimits): number {
  return 4 * Math.max(limits.max_items_per_request, limits.max_completions_per_rank, limits.max_messages_per_item);
}

/** Replace the default body parsers with the JSON-only one, refusing bodies over `limits` before parsing them. */
export function installJsonBody(app: FastifyInstance, limits: RawBodyLimits): void {
  const maxDepth = limits.max_json_depth;
  const maxElements = rawListLimit(limits);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(errors.malformedJson('the body is empty'), undefined);
    // Parsing, validation and error reporting walk every value (recursively): refusing deep or
    // huge lists on the raw text bounds that before any of it runs.
    const problem = jsonShapeProblem(text, maxDepth, maxElements, limits.max_ids_per_item);
    if (problem?.kind === 'depth') return done(errors.tooDeep(maxDepth), undefined);
    if (problem?.kind === 'list') return done(errors.tooManyElements(problem.path, maxElements), undefined);
    if (problem?.kind === 'numbers') return done(errors.tooManyIds(problem.path, limits.max_ids_per_item), undefined);
    try {
      // JSON.parse defines "__proto__" as an own key (no prototype pollution), and the strict
      // request schemas refuse unknown keys anyway.
      done(null, JSON.parse(text));
    } catch (err) {
      done(errors.malformedJson((err as Error).message), undefined);
    }
  });
}

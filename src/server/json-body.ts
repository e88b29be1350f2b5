/**
 * The JSON body parser: like fastify's, but a syntax error says where the JSON broke
 * (400 malformed_json with the parser's position), bodies nested deeper than max_json_depth
 * are refused before parsing (413), and only JSON bodies are accepted (anything else is 415
 * rather than a confusing schema error).
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';
import { nestsDeeperThan } from './json-depth.js';

/** Replace the default body parsers with the JSON-only one, refusing nesting deeper than `maxDepth`. */
export function installJsonBody(app: FastifyInstance, maxDepth: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(errors.malformedJson('the body is empty'), undefined);
    // Validation and error reporting walk parsed values recursively; refusing deep input on the raw text bounds that before any of it runs.
    if (nestsDeeperThan(text, maxDepth)) return done(errors.tooDeep(maxDepth), undefined);
    try {
      // JSON.parse defines "__proto__" as an own key (no prototype pollution), and the strict
      // request schemas refuse unknown keys anyway.
      done(null, JSON.parse(text));
    } catch (err) {
      done(errors.malformedJson((err as Error).message), undefined);
    }
  });
}

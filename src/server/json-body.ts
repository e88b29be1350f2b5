/**
 * The JSON body parser: like fastify's, but a syntax error says where the JSON broke
 * (400 malformed_json with the parser's position), and only JSON bodies are accepted
 * (anything else is 415 rather than a confusing schema error).
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';

/** Replace the default body parsers with the JSON-only one. */
export function installJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(errors.malformedJson('the body is empty'), undefined);
    try {
      // JSON.parse defines "__proto__" as an own key (no prototype pollution), and the strict
      // request schemas refuse unknown keys anyway.
      done(null, JSON.parse(text));
    } catch (err) {
      done(errors.malformedJson((err as Error).message), undefined);
    }
  });
}

/** The OpenAPI document, generated from the routes' zod schemas (committed as openapi/openapi.json). */
import { ServeConfigSchema } from '../config/schema.js';
import { buildApp } from './app.js';

/** Build the app without a model and return its OpenAPI document. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const { app } = await buildApp({ config: ServeConfigSchema.parse({}) });
  try {
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** The document as committed: two-space JSON with a final newline. */
export async function openApiText(): Promise<string> {
  return `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
}

/** Real HTTP calls for tests: JSON in, status + headers + parsed JSON (or text) out. */
import { ServeConfigSchema, type ServeConfig } from '../../src/config/schema.js';

export type Json = any;

/** A serve config on an ephemeral loopback port with logging off. */
export function testConfig(overrides: Partial<ServeConfig> = {}): ServeConfig {
  return ServeConfigSchema.parse({ host: '127.0.0.1', port: 0, log_level: 'silent', ...overrides });
}

/** POST (or GET without a body) `path` on `base`; a string body is sent as is. */
export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...headers };
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

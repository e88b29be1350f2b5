/**
 * Human documentation of the serve settings, rendered from the schema so `--help` and the
 * README table cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { CONFIG_KEYS, DEFAULT_MODEL_DIR, envName, flagName, ServeConfigSchema } from './schema.js';

type Property = { description?: string; default?: unknown; type?: string; enum?: unknown[] };

function properties(): Record<string, Property> {
  return z.toJSONSchema(ServeConfigSchema, { io: 'input' }).properties as Record<string, Property>;
}

function shownDefault(key: string, value: unknown): string {
  if (key === 'model' && value === DEFAULT_MODEL_DIR) return 'models/reference (in the package)';
  if (value === undefined) return 'none';
  return JSON.stringify(value);
}

function valueHint(p: Property): string {
  if (p.type === 'boolean') return '';
  if (p.enum) return p.enum.join('|');
  if (p.type === 'array') return 'A,B,...';
  return p.type === 'integer' || p.type === 'number' ? 'N' : 'VALUE';
}

/** The text of `warm-serve serve --help`. */
export function serveHelp(): string {
  const props = properties();
  const rows = CONFIG_KEYS.map((key) => {
    const p = props[key];
    const flag = `--${flagName(key)} ${valueHint(p)}`.trimEnd();
    return `  ${flag.padEnd(34)} ${p.description}\n  ${''.padEnd(34)} default ${shownDefault(key, p.default)}; env ${envName(key)}`;
  });
  return [
    'Usage: warm-serve serve [options]',
    '',
    'Serve a reward model over HTTP: POST /v1/score, POST /v1/rank, GET /v1/info, /health, /ready,',
    '/metrics, /docs. Settings come from, highest first: flags, WARM_SERVE_* environment variables,',
    'a JSON config file whose keys are the setting names (e.g. {"max_batch_size": 64}), defaults.',
    '',
    'Options:',
    `  ${'-c, --config FILE'.padEnd(34)} JSON config file (relative model paths resolve against its folder)`,
    `  ${''.padEnd(34)} env WARM_SERVE_CONFIG`,
    `  ${'-h, --help'.padEnd(34)} Show this help`,
    ...rows,
    '',
    'Exit status: 0 after a clean shutdown (SIGTERM/SIGINT drained in time), 1 when start-up or',
    'draining fails, 2 for invalid settings.',
    '',
  ].join('\n');
}

/** The README's configuration table (markdown). */
export function configMarkdownTable(): string {
  const props = properties();
  const rows = CONFIG_KEYS.map((key) => {
    const p = props[key];
    return `| \`${key}\` | \`--${flagName(key)}\` | \`${envName(key)}\` | ${shownDefault(key, p.default)} | ${p.description} |`;
  });
  return [
    '| setting (config file key) | flag | environment | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

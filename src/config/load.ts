/**
 * Resolve the serve settings from their four sources, highest first: command-line flags,
 * `WARM_SERVE_*` environment variables, an optional JSON config file (`--config FILE` or
 * `WARM_SERVE_CONFIG`), then the schema defaults.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, errors, type ConfigIssue } from '../errors.js';
import { jsonErrorPosition } from './json-position.js';
import { CONFIG_KEYS, envName, flagName, ServeConfigSchema, type ConfigKey, type ServeConfig } from './schema.js';

/** Invalid settings: the catalogue's config_error (exit status 2), naming each setting, where it came from and the fix. */
export { ConfigError };

const HELP_HINT = "run 'warm-serve serve --help' for the options";

/** What `warm-serve serve` was asked for: help, or a resolved configuration. */
export type ServeRequest = { help: true } | { help: false; config: ServeConfig; sources: Partial<Record<ConfigKey, string>> };

type Layer = { raw: Record<string, unknown>; describe: (key: string) => string };

/** Read flags, env and file, merge them and validate; throws a ConfigError (config_error) on any bad setting. */
export function loadServeConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeRequest {
  const flags = parseFlags(argv);
  if (flags.help) return { help: true };

  const configFile = (flags.values.config as string | undefined) ?? nonEmpty(env.WARM_SERVE_CONFIG);
  const layers: Layer[] = [];
  if (configFile) layers.push(readConfigFile(configFile));
  layers.push(envLayer(env));
  layers.push({ raw: flags.values, describe: (key) => `--${flagName(key)}` });

  const merged: Record<string, unknown> = {};
  const sources: Partial<Record<ConfigKey, string>> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.raw)) {
      if (key === 'config' || value === undefined) continue;
      merged[key] = value;
      sources[key as ConfigKey] = layer.describe(key);
    }
  }

  const parsed = ServeConfigSchema.safeParse(merged);
  if (!parsed.success) throw errors.config(describeIssues(parsed.error, sources, merged, configFile), 'invalid configuration');
  return { help: false, config: parsed.data, sources };
}

function parseFlags(argv: string[]): { help: boolean; values: Record<string, unknown> } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
  };
  // Boolean settings are bare flags (`--ensemble`); the others take a value.
  for (const key of CONFIG_KEYS) options[flagName(key)] = { type: BOOLEAN_KEYS.has(key) ? 'boolean' : 'string' };
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw errors.config({ problem: (err as Error).message, hint: HELP_HINT });
  }
  const byKey: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const key = name.replaceAll('-', '_');
    byKey[key] = coerce(key, value);
  }
  return { help: byKey.help === true, values: byKey };
}

function envLayer(env: NodeJS.ProcessEnv): Layer {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) raw[key] = coerce(key, nonEmpty(env[envName(key)]));
  return { raw, describe: (key) => `env ${envName(key)}` };
}

function readConfigFile(file: string): Layer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw errors.config({ source: `config file ${file}`, problem: `cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`, hint: 'check the --config path' });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Position only: the parser's message can quote the file, and config files hold API keys.
    throw errors.config({ source: `config file ${file}`, problem: `not valid JSON at ${jsonErrorPosition(text)}` });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw errors.config({ source: `config file ${file}`, problem: 'expected a JSON object of settings, e.g. {"port": 8000}' });
  }
  const settings = { ...(raw as Record<string, unknown>) };
  // A model path in a config file is relative to the file, so the file can travel with its model.
  if (typeof settings.model === 'string') settings.model = path.resolve(path.dirname(file), settings.model);
  return { raw: settings, describe: (key) => `config file ${file} key "${key}"` };
}

function describeIssues(
  error: z.ZodError,
  sources: Partial<Record<string, string>>,
  values: Record<string, unknown>,
  configFile: string | undefined,
): ConfigIssue[] {
  return error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    if (issue.code === 'unrecognized_keys') {
      // Flags are parsed strictly and env names come from the schema, so only a file can add keys.
      return { source: configFile === undefined ? 'config file' : `config file ${configFile}`, problem: `unknown setting(s) ${issue.keys.join(', ')}`, hint: "run 'warm-serve serve --help' for the list" };
    }
    // Never echo secrets into logs or terminals.
    const given = key in values && !SECRET_KEYS.has(key) ? ` (got ${JSON.stringify(values[key])})` : '';
    return { setting: key, source: sources[key] ?? 'default', problem: `${issue.message}${given}` };
  });
}

const NUMERIC_KEYS = new Set(
  Object.entries(z.toJSONSchema(ServeConfigSchema, { io: 'input' }).properties ?? {})
    .filter(([, p]) => typeof p === 'object' && (p.type === 'number' || p.type === 'integer'))
    .map(([key]) => key),
);

const BOOLEAN_KEYS = new Set(
  Object.entries(z.toJSONSchema(ServeConfigSchema, { io: 'input' }).properties ?? {})
    .filter(([, p]) => typeof p === 'object' && p.type === 'boolean')
    .map(([key]) => key),
);

const LIST_KEYS = new Set(
  Object.entries(z.toJSONSchema(ServeConfigSchema, { io: 'input' }).properties ?? {})
    .filter(([, p]) => typeof p === 'object' && p.type === 'array')
    .map(([key]) => key),
);

const SECRET_KEYS = new Set(['api_keys']);

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };

/** Flags and env vars are strings; numeric, boolean and list settings are converted (anything else stays for zod to refuse). */
function coerce(key: string, value: unknown): unknown {
  if (typeof value === 'string' && LIST_KEYS.has(key)) return value.split(',').map((part) => part.trim());
  if (typeof value === 'string' && BOOLEAN_KEYS.has(key)) return BOOLEAN_WORDS[value.trim().toLowerCase()] ?? value;
  if (typeof value !== 'string' || !NUMERIC_KEYS.has(key)) return value;
  const n = Number(value.trim());
  return value.trim() !== '' && Number.isFinite(n) ? n : value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

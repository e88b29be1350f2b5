/**
 * The server's API keys: gathered from the settings (`api_keys`, from the flag, the env var or
 * the config file) and `api_keys_file`, kept only as SHA-256 digests, and matched in constant
 * time. Digests have a fixed length, so timingSafeEqual compares them whatever the key lengths,
 * and every key is compared on every check, so timing reveals neither the key nor which one matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServeConfigSchema, type ServeConfig } from '../config/schema.js';
import { errors } from '../errors.js';

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

// The same rule as the api_keys setting, so a key works whichever way it was configured.
const KeySchema = ServeConfigSchema.shape.api_keys.unwrap().element;

/** Read an API key file: one key per line; blank lines and lines starting with # are skipped. */
export function readApiKeyFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw errors.config({ source: `api_keys_file ${file}`, problem: `cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`, hint: 'check the path' });
  }
  const keys: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const checked = KeySchema.safeParse(line);
    // The message names the line, never the key.
    if (!checked.success) throw errors.config({ source: `api_keys_file ${file} line ${i + 1}`, problem: checked.error.issues[0].message });
    keys.push(line);
  });
  if (keys.length === 0) {
    throw errors.config({ source: `api_keys_file ${file}`, problem: 'no keys in it', hint: 'add one key per line, or unset api_keys_file to serve without authentication' });
  }
  return keys;
}

/** A set of accepted API keys; empty means authentication is off. */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = [...new Set(keys)].map(digest);
  }

  /** The keys of a serve config: `api_keys` plus those in `api_keys_file`. */
  static fromConfig(config: Pick<ServeConfig, 'api_keys' | 'api_keys_file'>): ApiKeys {
    const fromFile = config.api_keys_file ? readApiKeyFile(config.api_keys_file) : [];
    return new ApiKeys([...config.api_keys, ...fromFile]);
  }

  /** Whether any key is configured (authentication on). */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Whether `presented` is one of the keys. */
  accepts(presented: string): boolean {
    const candidate = digest(presented);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(candidate, known) || match;
    return match;
  }
}

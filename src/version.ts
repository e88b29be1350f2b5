import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (used in provenance and /v1/info). */
export const VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;

#!/usr/bin/env node
// Regenerate openapi/openapi.json from the routes' zod schemas: `npm run openapi` (builds first).
// test/openapi.test.ts fails while the committed file differs from what the code generates.
import { writeFileSync } from 'node:fs';
import { openApiText } from '../dist/server/openapi.js';

const target = new URL('../openapi/openapi.json', import.meta.url);
writeFileSync(target, await openApiText());
process.stdout.write(`wrote ${target.pathname}\n`);

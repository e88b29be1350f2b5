#!/usr/bin/env node
// Rewrite docs/api.md's error table (between the error-table markers) from the error catalogue
// (src/errors.ts): `npm run build && node scripts/error-table.mjs`. test/errors.test.ts fails
// while the manual's table differs from the generated one.
import { errorMarkdownTable } from '../dist/errors.js';
import { rewriteReadmeBlock } from './readme-block.mjs';

rewriteReadmeBlock('error-table', errorMarkdownTable(), 'docs/api.md');
process.stdout.write('docs/api.md error table updated\n');

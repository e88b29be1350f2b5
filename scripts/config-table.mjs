#!/usr/bin/env node
// Rewrite README.md's serve configuration table (between the serve-config-table markers) from
// the config schema: `npm run build && node scripts/config-table.mjs`. test/config.test.ts
// fails while the README's table differs from the generated one.
import { configMarkdownTable } from '../dist/config/help.js';
import { rewriteReadmeBlock } from './readme-block.mjs';

rewriteReadmeBlock('serve-config-table', configMarkdownTable());
process.stdout.write('README.md configuration table updated\n');

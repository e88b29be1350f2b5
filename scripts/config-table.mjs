#!/usr/bin/env node
// Rewrite docs/configuration.md's serve configuration table (between the serve-config-table markers) from
// the config schema: `npm run build && node scripts/config-table.mjs`. test/config.test.ts
// fails while the manual's table differs from the generated one.
import { configMarkdownTable } from '../dist/config/help.js';
import { rewriteReadmeBlock } from './readme-block.mjs';

rewriteReadmeBlock('serve-config-table', configMarkdownTable(), 'docs/configuration.md');
process.stdout.write('docs/configuration.md configuration table updated\n');

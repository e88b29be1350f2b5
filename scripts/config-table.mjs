#!/usr/bin/env node
// Rewrite README.md's serve configuration table (between the serve-config-table markers) from
// the config schema: `npm run build && node scripts/config-table.mjs`. test/config.test.ts
// fails while the README's table differs from the generated one.
import { readFileSync, writeFileSync } from 'node:fs';
import { configMarkdownTable } from '../dist/config/help.js';

const readme = new URL('../README.md', import.meta.url);
const text = readFileSync(readme, 'utf8');
const start = '<!-- serve-config-table:start -->';
const end = '<!-- serve-config-table:end -->';
const from = text.indexOf(start);
const to = text.indexOf(end);
if (from < 0 || to < from) throw new Error(`README.md has no ${start} ... ${end} block`);
writeFileSync(readme, `${text.slice(0, from + start.length)}\n${configMarkdownTable()}\n${text.slice(to)}`);
process.stdout.write('README.md configuration table updated\n');

// Replace a generated block of README.md: the text between `<!-- NAME:start -->` and
// `<!-- NAME:end -->`. Used by the scripts that render README tables from the code.
import { readFileSync, writeFileSync } from 'node:fs';

/** Write `content` between the NAME markers of README.md (throws when the markers are missing). */
export function rewriteReadmeBlock(name, content) {
  const readme = new URL('../README.md', import.meta.url);
  const text = readFileSync(readme, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} ... ${end} block`);
  writeFileSync(readme, `${text.slice(0, from + start.length)}\n${content}\n${text.slice(to)}`);
}

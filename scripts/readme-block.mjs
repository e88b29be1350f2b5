// Replace a generated block of a manual: the text between `<!-- NAME:start -->` and
// `<!-- NAME:end -->`. Used by the scripts that render the docs' tables from the code.
import { readFileSync, writeFileSync } from 'node:fs';

/** Write `content` between the NAME markers of `file` (relative to the repository; throws when the markers are missing). */
export function rewriteReadmeBlock(name, content, file) {
  const readme = new URL(`../${file}`, import.meta.url);
  const text = readFileSync(readme, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} has no ${start} ... ${end} block`);
  writeFileSync(readme, `${text.slice(0, from + start.length)}\n${content}\n${text.slice(to)}`);
}

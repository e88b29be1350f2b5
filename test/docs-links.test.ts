/**
 * Every relative link in README.md and docs/*.md reaches a file of the repository, and every
 * `#anchor` a heading of its target (GitHub's slugs): the README was split into manuals, and
 * generated tables (src/errors.ts, the config schema) write links into them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

const ROOT = path.join(import.meta.dirname, '..');
const FILES = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Lines outside fenced code blocks, with their numbers. */
function prose(file: string): [number, string][] {
  let code = false;
  return readFileSync(file, 'utf8').split('\n').flatMap((line, i): [number, string][] => {
    if (line.startsWith('```')) code = !code;
    return code || line.startsWith('```') ? [] : [[i + 1, line]];
  });
}

const slug = (title: string) => title.trim().toLowerCase().replace(/[^\w\- ]/g, '').replaceAll(' ', '-');
const anchors = (file: string) => new Set(prose(file).flatMap(([, l]) => (/^#{1,6} (.*)$/.exec(l) ? [slug(/^#{1,6} (.*)$/.exec(l)![1])] : [])));

t.test('relative links and anchors of the README and the manuals resolve', async (t) => {
  let links = 0;
  for (const file of FILES) {
    for (const [n, line] of prose(path.join(ROOT, file))) {
      for (const [, target] of line.matchAll(/\]\s?\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:)/.test(target)) continue;
        links++;
        const [part, anchor] = target.split('#');
        const resolved = part ? path.join(ROOT, path.dirname(file), part) : path.join(ROOT, file);
        if (!existsSync(resolved)) {
          t.fail(`${file}:${n}: ${target} does not exist`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) t.fail(`${file}:${n}: ${target} names no heading`);
      }
    }
  }
  t.ok(links > 50, `${links} links checked`);
});

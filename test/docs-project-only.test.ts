/**
 * The docs describe the project, its commands and its figures, not the machine they were written
 * on (issue 18.4): README.md, everything under docs/ and the committed bench/*.json reports name
 * no absolute path under /work, /tmp or /root (a path in the checkout is written relative to it;
 * scripts/serve-examples.sh prints the checkout as /path/to/warm-serve) and no "this machine",
 * "development machine" or lent-sessions wording. "this machine only" stays allowed: it means the
 * host a server runs on (`--host 127.0.0.1`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What a doc must not say, with why. */
const RULES: [RegExp, string][] = [
  [/(?<![\w.~-])\/(?:work|tmp|root)(?![\w.-])/, 'an absolute path of one machine (write it relative to the repository)'],
  [/\bthis machine\b(?! only)/i, "'this machine': say which hardware a figure is from, or what a user's machine needs"],
  [/\bdevelopment machine\b|\bdev box\b/i, "the development machine: say which hardware (e.g. 'a 2-core VM')"],
  [/\bsessions?\b[^.\n]*\blent\b|\blent a\b|\bthis session\b/i, 'how the work was done (sessions, lent machines): say what is tested and what is not'],
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const docs = [
  join(ROOT, 'README.md'),
  ...filesUnder(join(ROOT, 'docs')),
  ...readdirSync(join(ROOT, 'bench')).filter((name) => name.endsWith('.json')).map((name) => join(ROOT, 'bench', name)),
];

t.test('README.md, docs/ and bench/*.json describe the project, not a machine', async (t) => {
  t.ok(docs.length > 3, `${docs.length} files checked`);
  const problems: string[] = [];
  for (const file of docs) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const [rule, why] of RULES) {
          const found = rule.exec(line);
          if (found) problems.push(`${relative(ROOT, file)}:${i + 1}: "${found[0]}": ${why}`);
        }
      });
  }
  t.same(problems, [], 'no machine paths or machine wording');
});

t.test('the rules catch what they are for', async (t) => {
  const caught = (text: string) => RULES.some(([rule]) => rule.test(text));
  for (const bad of ['"path": "/work/main/models/reference"', 'dist: /tmp/ab/v0/dist', 'cd /root', 'thin on this machine.', 'On the 2-core development machine', "this project's sessions were not lent a GPU machine"]) {
    t.ok(caught(bad), bad);
  }
  for (const fine of ['127.0.0.1 = this machine only', 'models/reference/tmp/x', 'https://example.com/work/x', 'mktemp -d', 'each ONNX Runtime session', '/path/to/warm-serve']) {
    t.notOk(caught(fine), fine);
  }
});

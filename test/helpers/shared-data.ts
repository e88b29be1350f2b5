/**
 * The preference data in ../shared/data, the folder beside this checkout (TL;DR and HH-RLHF test
 * files; docs/WARM.md). A clone without it skips each test that reads it, with one line naming
 * the folder. Under CI (the CI variable set, other than "false" or "0") a missing folder fails
 * those tests instead, so CI never passes by skipping them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

export const SHARED_DATA = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');

const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** A test body, as t.test takes it (its last overload takes only the body). */
type Body = Parameters<typeof t.test>[0];

/** `t.test(name, fn)` for a test that reads SHARED_DATA: skipped (outside CI) or failed (in CI) when it is missing. */
export function testWithSharedData(name: string, fn: Body) {
  if (existsSync(SHARED_DATA)) return t.test(name, fn);
  if (ci) return t.test(name, async (t) => t.fail(`${SHARED_DATA} is missing (CI=${process.env.CI}: this test reads it, so it cannot skip)`));
  return t.test(name, { skip: `${SHARED_DATA} is missing (the preference data beside the checkout)` }, fn);
}
